"""An acknowledged write survives the process being killed (SIGKILL: no cleanup runs)."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

from stigmer_sessions import SessionController

WRITER = textwrap.dedent(
    """
    import sys
    from stigmer_sessions import SessionController
    from tests.conftest import make_session

    controller = SessionController(sys.argv[1])  # default: durable
    for i in range(10_000):
        created = controller.create(make_session(f"s{i}", tags=("crash",)))
        print(created.metadata.id, flush=True)  # printed only once the commit returned
    """
)


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    data = tmp_path / "data"
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, str(data)], stdout=subprocess.PIPE, text=True, cwd=root
    )
    assert proc.stdout is not None
    acknowledged = [proc.stdout.readline().strip() for _ in range(25)]
    proc.send_signal(signal.SIGKILL)
    acknowledged += [line.strip() for line in proc.stdout if line.strip()]  # acks sent before death
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    with SessionController(data) as controller:
        for session_id in acknowledged:
            assert controller.get(session_id).metadata.id == session_id
        # indexes and counters are as consistent as the records: nothing half-written
        page = controller.list(tags=["crash"], page_size=1000)
        assert page.total_size == len(page.entries) >= len(acknowledged)
        assert {s.metadata.id for s in page.entries} >= set(acknowledged)
