"""The README's Python examples run as written (against a temporary directory / server)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from stigmer_sessions.grpc_server import RunningServer

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", README, flags=re.DOTALL)


def test_readme_has_the_two_setup_commands() -> None:
    assert "make serve" in README
    assert "make test" in README
    assert len(BLOCKS) == 2


def test_client_example_runs_against_a_server(
    server: RunningServer, capsys: pytest.CaptureFixture[str]
) -> None:
    client = BLOCKS[0]
    assert len([line for line in client.splitlines() if line.strip()]) <= 10
    exec(compile(client.replace("127.0.0.1:50051", server.address), "README-client", "exec"), {})
    out = capsys.readouterr().out
    assert out.startswith("ses-")
    assert "['daily-standup']" in out


def test_library_example_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        exec(compile(BLOCKS[1], "README-library", "exec"), {})
    finally:
        os.chdir(cwd)
    assert "StatusCode.NOT_FOUND session 'ses-unknown' not found" in capsys.readouterr().out
    assert (tmp_path / "data" / "data.mdb").exists()
