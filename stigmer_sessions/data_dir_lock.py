"""One process at a time may serve, or rewrite, a data directory.

LMDB itself lets many processes share an environment, so a second ``serve`` on the same
directory would start and quietly share the store, with its writes reaching the first
server's watchers only by polling. The claim is an advisory ``flock`` on
``<data dir>/stigmer-sessions.lock``, held for the claimant's life, with its pid and
command written in the file so a refused process can say who holds it. The kernel drops
the lock when the holder dies, even by SIGKILL, so a crash never leaves a stale claim.

``serve`` and the writing admin commands (``reindex``, ``import``) claim; ``check`` and
``export`` only read a consistent snapshot and need no claim. The workers of
``serve --workers N`` run under their parent's claim (:func:`held_by`).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from types import TracebackType

from pipeline.errors import FailedPrecondition

LOCK_NAME = "stigmer-sessions.lock"


class DataDirLock:
    """A held claim on a data directory; :meth:`release` (or leaving ``with``) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the only descriptor releases the flock
            self._fd = None

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()


def _holder(fd: int) -> str:
    text = os.pread(fd, 256, 0).decode(errors="replace").strip()
    pid, _, command = text.partition(" ")
    return f"pid {pid}, `stigmer-sessions {command}`" if pid.isdigit() else "a process that is starting"


def claim(data_dir: str | os.PathLike[str], command: str) -> DataDirLock:
    """Claim ``data_dir`` (which must exist) for this process, recording ``command``.

    Raises FailedPrecondition naming the holder's pid if another process has it; OSError
    if the lock file cannot be created (e.g. the directory is read-only).
    """
    path = Path(data_dir).resolve() / LOCK_NAME
    # no O_TRUNC: the file may hold the current holder's pid, read below
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        raise FailedPrecondition(
            f"the data dir {path.parent} is in use by another process ({holder}); stop it first"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()} {command}\n".encode(), 0)
    return DataDirLock(path, fd)


def held_by(data_dir: str | os.PathLike[str], pid: int) -> bool:
    """Whether process ``pid`` holds the claim on ``data_dir`` right now."""
    path = Path(data_dir).resolve() / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:  # someone holds it: is it pid?
            return os.pread(fd, 256, 0).decode(errors="replace").split(" ", 1)[0] == str(pid)
        return False  # nobody holds it
    finally:
        os.close(fd)
