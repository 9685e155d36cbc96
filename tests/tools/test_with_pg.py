"""tools/with_pg.py: ``make test`` runs the PostgreSQL tier when it can and says so when not."""

from __future__ import annotations

import subprocess
import sys
from types import ModuleType

import pytest

from tests.tools import TOOLS, load_tool

TOOL = TOOLS / "with_pg.py"


def _load() -> ModuleType:
    return load_tool("with_pg")


def test_a_given_database_is_used_and_the_exit_code_passed_through() -> None:
    probe = (
        "import os, sys; sys.exit(7 if os.environ['STIGMER_SESSIONS_TEST_PG'] == 'postgresql://given' else 1)"
    )
    result = subprocess.run(
        [sys.executable, str(TOOL), "--", sys.executable, "-c", probe],
        env={"STIGMER_SESSIONS_TEST_PG": "postgresql://given", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 7
    assert "PostgreSQL tier on the database in STIGMER_SESSIONS_TEST_PG" in result.stderr


def test_without_a_way_to_get_a_database_it_says_the_tier_is_skipped(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with_pg = _load()
    monkeypatch.delenv("STIGMER_SESSIONS_TEST_PG", raising=False)
    monkeypatch.setattr(with_pg, "_can_start", lambda: "no binaries here")
    started: list[object] = []
    monkeypatch.setattr(with_pg.pg_cluster, "start", started.append)
    assert with_pg.main(["--", sys.executable, "-c", "raise SystemExit(4)"]) == 4
    assert started == []
    err = capsys.readouterr().err
    assert "PostgreSQL tier SKIPPED: no binaries here" in err and "STIGMER_SESSIONS_TEST_PG" in err
