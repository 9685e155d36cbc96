import grpc
import pytest

from pipeline.errors import Aborted, NotFound
from pipeline.retry import retry_on_conflict


class FakeRpcError(grpc.RpcError):
    def __init__(self, code: grpc.StatusCode) -> None:
        self._code = code

    def code(self) -> grpc.StatusCode:
        return self._code


def flaky(failures: list[Exception]) -> object:
    calls = {"n": 0}

    def fn() -> int:
        calls["n"] += 1
        if failures:
            raise failures.pop(0)
        return calls["n"]

    return fn


def test_retries_aborted_until_success() -> None:
    slept: list[float] = []
    fn = flaky([Aborted("x"), FakeRpcError(grpc.StatusCode.ABORTED)])
    assert retry_on_conflict(fn, sleep=slept.append) == 3  # type: ignore[arg-type]
    assert len(slept) == 2
    assert slept[1] > slept[0] * 0.6  # backoff grows (with jitter)


def test_gives_up_after_attempts_with_the_last_conflict() -> None:
    fn = flaky([Aborted(str(i)) for i in range(5)])
    with pytest.raises(Aborted, match="2"):
        retry_on_conflict(fn, attempts=3, sleep=lambda _: None)  # type: ignore[arg-type]


def test_other_errors_are_not_retried() -> None:
    fn = flaky([NotFound("gone"), Aborted("never reached")])
    with pytest.raises(NotFound):
        retry_on_conflict(fn, sleep=lambda _: None)  # type: ignore[arg-type]
    fn = flaky([FakeRpcError(grpc.StatusCode.UNAVAILABLE)])
    with pytest.raises(grpc.RpcError):
        retry_on_conflict(fn, sleep=lambda _: None)  # type: ignore[arg-type]
