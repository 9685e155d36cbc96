"""--request-log over a real server: which calls get their INFO line under all, errors and
sample:N (errors always; a sample by a counter, also under concurrent callers), and the
refusal WARNING that no setting silences."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from typing import Any

import grpc
import pytest

from pipeline.errors import Unauthenticated
from stigmer_sessions import SessionController
from stigmer_sessions.api import SessionId
from stigmer_sessions.grpc_server import RequestLog, start_server
from tests.conftest import Stubs, make_session

LOGGER = "stigmer_sessions.rpc"


@pytest.fixture
def serve(controller: SessionController) -> Iterator[Callable[..., Stubs]]:
    """Starts a server on port 0 with the given start_server options; returns its stubs."""
    with ExitStack() as stack:

        def make(**options: Any) -> Stubs:
            running = start_server(controller, "127.0.0.1:0", **options)
            stack.callback(running.stop, grace=None)
            return Stubs(stack.enter_context(grpc.insecure_channel(running.address)))

        yield make


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.fields for r in caplog.records if r.name == LOGGER and r.getMessage() == "rpc"]  # type: ignore[attr-defined]


def _calls(stubs: Stubs, ok: int, failed: int) -> str:
    """``ok`` Gets of a stored session, then ``failed`` Gets of a missing one; its id."""
    sid = stubs.command.create(make_session("Logged")).metadata.id
    for _ in range(ok):
        stubs.query.get(SessionId(value=sid))
    for _ in range(failed):
        with pytest.raises(grpc.RpcError):
            stubs.query.get(SessionId(value="ses-missing"))
    return str(sid)


def test_all_logs_every_call_without_a_sample_field(
    serve: Callable[..., Stubs], caplog: pytest.LogCaptureFixture
) -> None:
    stubs = serve(request_log=RequestLog.parse("all"))
    with caplog.at_level(logging.INFO, LOGGER):
        _calls(stubs, ok=4, failed=1)
    lines = _lines(caplog)
    assert [line["code"] for line in lines] == ["OK"] * 5 + ["NOT_FOUND"]
    assert not [line for line in lines if "sample" in line]
    assert {"method", "code", "duration_ms", "actor"} <= set(lines[0])


def test_errors_logs_only_calls_that_fail(
    serve: Callable[..., Stubs], caplog: pytest.LogCaptureFixture
) -> None:
    stubs = serve(request_log=RequestLog.parse("errors"))
    with caplog.at_level(logging.INFO, LOGGER):
        _calls(stubs, ok=5, failed=2)
    lines = _lines(caplog)
    assert [line["code"] for line in lines] == ["NOT_FOUND", "NOT_FOUND"]
    assert all("error" in line and line["method"].endswith("/get") for line in lines)


def test_sample_logs_one_in_n_successes_and_every_error(
    serve: Callable[..., Stubs], caplog: pytest.LogCaptureFixture
) -> None:
    stubs = serve(request_log=RequestLog.parse("sample:3"))
    with caplog.at_level(logging.INFO, LOGGER):
        _calls(stubs, ok=6, failed=2)  # 7 successes: the create and 6 gets
    lines = _lines(caplog)
    ok = [line for line in lines if line["code"] == "OK"]
    # the 1st (the create), 4th and 7th success; errors do not advance the count
    assert [line["method"].rsplit("/", 1)[1] for line in ok] == ["create", "get", "get"]
    assert {line["sample"] for line in ok} == {3}
    assert [line["code"] for line in lines if line["code"] != "OK"] == ["NOT_FOUND", "NOT_FOUND"]
    assert not [line for line in lines if line["code"] != "OK" and "sample" in line]


def test_a_sample_under_concurrent_callers_is_exact(
    serve: Callable[..., Stubs], caplog: pytest.LogCaptureFixture
) -> None:
    stubs = serve(request_log=RequestLog.parse("sample:10"), max_workers=8)
    sid = SessionId(value=stubs.command.create(make_session("Shared")).metadata.id)  # success 1: logged
    with caplog.at_level(logging.INFO, LOGGER), ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda _: stubs.query.get(sid), range(400)))
    # 400 more successes (2..401): the 11th, 21st, ... 401st of all: 40 lines, whatever the interleaving
    gets = [line for line in _lines(caplog) if line["method"].endswith("/get")]
    assert len(gets) == 40 and {line["code"] for line in gets} == {"OK"}


def test_a_refusal_is_logged_whatever_the_setting(
    serve: Callable[..., Stubs], caplog: pytest.LogCaptureFixture
) -> None:
    def refuse(context: grpc.ServicerContext) -> Any:
        raise Unauthenticated("a valid bearer token or client certificate is required")

    stubs = serve(request_log=RequestLog.parse("sample:1000000"), authenticator=refuse)
    with caplog.at_level(logging.INFO, LOGGER), pytest.raises(grpc.RpcError) as err:
        stubs.query.get(SessionId(value="ses-x"))
    assert err.value.code() == grpc.StatusCode.UNAUTHENTICATED
    warnings = [r for r in caplog.records if r.name == LOGGER and r.getMessage() == "unauthenticated"]
    assert len(warnings) == 1 and warnings[0].levelno == logging.WARNING
    assert [line["code"] for line in _lines(caplog)] == ["UNAUTHENTICATED"]
