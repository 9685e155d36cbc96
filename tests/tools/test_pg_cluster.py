"""tools/pg_cluster.py: a benchmark cluster must really flush at commit, also after a restart."""

import glob
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
SETTINGS = ("fsync", "synchronous_commit", "full_page_writes")


def _tool(*args: str) -> str:
    return subprocess.run(
        [sys.executable, str(ROOT / "tools" / "pg_cluster.py"), *args],
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    ).stdout


def _settings(dsn: str) -> dict[str, str]:
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0]) for name in SETTINGS}  # type: ignore[index]


def test_durable_cluster_flushes_at_commit_also_after_pause_and_resume(tmp_path: Path) -> None:
    if not glob.glob("/usr/lib/postgresql/*/bin/initdb"):
        pytest.skip("no PostgreSQL binaries (CI installs them through .ci/run)")
    state = tmp_path / "cluster.json"
    dsn = _tool("start", "--durable", "--state", str(state)).strip().rsplit("=", 1)[1]
    try:
        assert _settings(dsn) == dict.fromkeys(SETTINGS, "on")
        _tool("pause", "--state", str(state))
        _tool("resume", "--state", str(state))
        assert _settings(dsn) == dict.fromkeys(SETTINGS, "on")
    finally:
        _tool("stop", "--state", str(state))
    assert not state.exists()
