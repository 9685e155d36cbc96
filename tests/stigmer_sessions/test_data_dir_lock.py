"""The claim on a data directory: exclusive, names its holder, dies with its holder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.errors import FailedPrecondition
from stigmer_sessions import data_dir_lock


def test_a_second_claim_is_refused_naming_the_holder(tmp_path: Path) -> None:
    with data_dir_lock.claim(tmp_path, "serve"):
        with pytest.raises(FailedPrecondition) as refused:
            data_dir_lock.claim(tmp_path, "reindex")
        assert (
            f"in use by another process (pid {os.getpid()}, `stigmer-sessions serve`)"
            in refused.value.message
        )
        assert str(tmp_path) in refused.value.message
        assert data_dir_lock.held_by(tmp_path, os.getpid())
        assert not data_dir_lock.held_by(tmp_path, os.getpid() + 1)
    assert not data_dir_lock.held_by(tmp_path, os.getpid())
    with data_dir_lock.claim(tmp_path, "import"):  # released: claimable again
        assert (tmp_path / data_dir_lock.LOCK_NAME).read_text() == f"{os.getpid()} import\n"


def test_nobody_holds_a_directory_never_claimed(tmp_path: Path) -> None:
    assert not data_dir_lock.held_by(tmp_path, os.getpid())


def test_a_killed_holder_leaves_no_stale_claim(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from stigmer_sessions import data_dir_lock as d; "
            f"c = d.claim({str(tmp_path)!r}, 'serve'); print('held', flush=True); time.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == "held\n"
        with pytest.raises(FailedPrecondition, match=f"pid {holder.pid}"):
            data_dir_lock.claim(tmp_path, "serve")
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait(timeout=30)
    with data_dir_lock.claim(tmp_path, "serve"):  # the kernel released it with the process
        pass


def test_claiming_a_directory_that_cannot_hold_the_lock_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        data_dir_lock.claim(tmp_path / "missing", "serve")
