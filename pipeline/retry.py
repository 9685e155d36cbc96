"""retry_on_conflict: re-run a read-modify-write until it lands on a version nobody changed."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import TypeVar

import grpc

from pipeline.errors import Aborted

T = TypeVar("T")


def _is_conflict(exc: BaseException) -> bool:
    if isinstance(exc, Aborted):
        return True
    code = getattr(exc, "code", None)  # grpc's call errors are also grpc.Call, which has code()
    return isinstance(exc, grpc.RpcError) and callable(code) and code() == grpc.StatusCode.ABORTED


def retry_on_conflict(
    fn: Callable[[], T],
    *,
    attempts: int = 5,
    backoff_s: float = 0.005,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn`` (which must re-read the resource and re-apply its change each time) until
    it does not fail with ABORTED, at most ``attempts`` times, sleeping a jittered,
    doubling backoff between tries. Works with the library (:class:`Aborted`) and with gRPC
    stubs (``RpcError`` with code ABORTED). The last conflict is re-raised."""
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return fn()
        except Exception as exc:
            if not _is_conflict(exc) or attempt == attempts - 1:
                raise
        sleep(backoff_s * (2**attempt) * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable")
