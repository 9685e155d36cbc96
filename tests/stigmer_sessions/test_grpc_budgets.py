"""Responses bounded in bytes, end to end: a real server process, DEFAULT gRPC clients (no
channel options, so a 4 MiB receive limit), data far larger than one response."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import pytest

from pipeline.listing import DEFAULT_MAX_RESPONSE_BYTES, MIN_RESPONSE_BYTES
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import change_pb2_grpc, message_pb2_grpc
from stigmer_sessions.api import (
    AppendSessionMessageRequest,
    AppendSessionMessagesRequest,
    ListSessionChangesRequest,
    ListSessionMessagesRequest,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    ResumeSessionRequest,
    SessionMessageInput,
    SessionMessageRole,
    WatchSessionChangesRequest,
)
from stigmer_sessions.cli import _parser, _worker_args
from stigmer_sessions.grpc_server import start_server
from tests.backends import BACKENDS, pg_schema
from tests.conftest import ROOT, Stubs, make_session, start_server_process

MIB = 1024 * 1024
MESSAGES = 60
BIG_SESSIONS = 30
ANNOTATION = 200_000


def content(i: int) -> str:
    """Message i: exactly 1 MiB (the default content limit allows it), recognisable."""
    head = f"message {i:03d} "
    return head + "x" * (MIB - len(head))


@dataclass
class Served:
    address: str
    conversation: str
    big_ids: list[str]


def fill(address: str) -> Served:
    """A 60 x 1 MiB conversation and 30 sessions of 200 KB annotations, through ``address``."""
    with grpc.insecure_channel(address) as channel:
        stubs = Stubs(channel)
        messages = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
        conversation = stubs.command.create(make_session("conversation", org="talk")).metadata.id
        for i in range(1, MESSAGES + 1):
            messages.appendMessage(
                AppendSessionMessageRequest(
                    session_id=conversation, role=SessionMessageRole.role_user, content=content(i)
                )
            )
        big_ids = []
        for i in range(BIG_SESSIONS):
            s = make_session(f"big {i}", org="big", agent="ain-big")
            s.metadata.annotations["blob"] = "a" * ANNOTATION
            big_ids.append(stubs.command.create(s).metadata.id)
    return Served(address, conversation, big_ids)


@pytest.fixture(scope="module", params=BACKENDS)
def served(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One server holding :func:`fill`'s data: on LMDB a real server process; on PostgreSQL
    the same server in-process (the command line here has no --store yet), on a schema of
    its own. The byte budgets are the servicers', the same in both."""
    if request.param == "postgres":
        with pg_schema() as dsn, SessionController(store=dsn) as controller:
            running = start_server(controller, "127.0.0.1:0")
            try:
                yield fill(running.address)
            finally:
                running.stop(grace=None)
        return
    data = tmp_path_factory.mktemp("budgets")
    proc, ready = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(data), "--durability", "relaxed"
    )
    try:
        yield fill(ready["address"])
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        ready["drain"].join(timeout=5)


@pytest.fixture
def channel(served: Served) -> Iterator[grpc.Channel]:
    with grpc.insecure_channel(served.address) as ch:  # no options: the default 4 MiB limit
        yield ch


def within_budget(response: Any, entries: int, budget: int = DEFAULT_MAX_RESPONSE_BYTES) -> None:
    assert entries >= 1, "every page makes progress"
    assert response.ByteSize() <= budget or entries == 1


def test_a_60_mib_conversation_resumes_and_pages_back_with_a_default_client(
    served: Served, channel: grpc.Channel
) -> None:
    stub = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
    resumed = stub.resume(ResumeSessionRequest(session_id=served.conversation))
    within_budget(resumed, len(resumed.messages))
    assert resumed.session.state.message_count == MESSAGES
    seen = [m.sequence for m in resumed.messages]
    assert seen == list(range(MESSAGES - len(seen) + 1, MESSAGES + 1))  # the latest, oldest first
    token = resumed.earlier_page_token
    while token:
        page = stub.listMessages(
            ListSessionMessagesRequest(session_id=served.conversation, newest_first=True, page_token=token)
        )
        within_budget(page, len(page.messages))
        seen = [m.sequence for m in reversed(page.messages)] + seen
        assert all(m.content == content(m.sequence) for m in page.messages)
        token = page.next_page_token
    assert seen == list(range(1, MESSAGES + 1))  # every message exactly once, in order


def test_the_conversation_lists_oldest_first_with_a_default_client(
    served: Served, channel: grpc.Channel
) -> None:
    stub = message_pb2_grpc.SessionMessageControllerStub(channel)  # type: ignore[no-untyped-call]
    seen: list[int] = []
    token = ""
    while True:
        page = stub.listMessages(
            ListSessionMessagesRequest(session_id=served.conversation, page_size=1000, page_token=token)
        )
        within_budget(page, len(page.messages))
        assert page.total_size == MESSAGES
        seen += [m.sequence for m in page.messages]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(range(1, MESSAGES + 1))


@pytest.mark.parametrize("operation", ["list", "listByAgent"])
def test_sessions_with_big_annotations_page_through_with_a_default_client(
    served: Served, channel: grpc.Channel, operation: str
) -> None:
    query = Stubs(channel).query
    seen: list[str] = []
    token = ""
    while True:
        if operation == "list":
            page = query.list(ListSessionsRequest(org="big", page_size=1000, page_token=token))
        else:
            page = query.listByAgent(ListSessionsByAgentRequest(agent_id="ain-big", page_token=token))
        within_budget(page, len(page.entries))
        assert page.total_size == BIG_SESSIONS
        seen += [s.metadata.id for s in page.entries]
        token = page.next_page_token
        if not token:
            break
        assert len(seen) < 10 * BIG_SESSIONS
    assert seen == served.big_ids[::-1]  # newest first, each exactly once


def test_list_changes_of_1000_over_big_changes_pages_through_with_a_default_client(
    served: Served, channel: grpc.Channel
) -> None:
    stub = change_pb2_grpc.SessionChangeControllerStub(channel)  # type: ignore[no-untyped-call]
    seen: list[int] = []
    token = ""
    while True:
        page = stub.listChanges(ListSessionChangesRequest(page_size=1000, page_token=token))
        within_budget(page, len(page.changes))
        seen += [c.revision for c in page.changes]
        token = page.next_page_token
        if not token:
            break
    assert seen == list(range(1, page.current_revision + 1))
    assert page.current_revision == 1 + MESSAGES + BIG_SESSIONS


def test_the_budget_is_set_by_a_serve_flag(tmp_path: Path) -> None:
    proc, ready = start_server_process(
        "--address",
        "127.0.0.1:0",
        "--data-dir",
        str(tmp_path / "db"),
        "--durability",
        "relaxed",
        "--max-response-bytes",
        str(MIN_RESPONSE_BYTES),
    )
    try:
        with grpc.insecure_channel(ready["address"]) as channel:
            stubs = Stubs(channel)
            for i in range(6):
                s = make_session(f"s{i}")
                s.metadata.annotations["blob"] = "a" * 30_000
                stubs.command.create(s)
            page = stubs.query.list(ListSessionsRequest(page_size=50))
            assert len(page.entries) == 2 and page.next_page_token
            within_budget(page, len(page.entries), MIN_RESPONSE_BYTES)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        ready["drain"].join(timeout=5)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (
            str(MIN_RESPONSE_BYTES - 1),
            f"{MIN_RESPONSE_BYTES - 1} is out of range: must be at least {MIN_RESPONSE_BYTES}",
        ),
        ("0", "0 is out of range"),
        ("-5", "-5 is out of range"),
        ("3MiB", "'3MiB' is not an integer"),
    ],
)
def test_a_response_budget_below_the_minimum_or_not_a_number_is_refused(
    tmp_path: Path, value: str, says: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "server.py"), "--data-dir", str(tmp_path), "--max-response-bytes", value],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2
    assert f"argument --max-response-bytes: {says}" in done.stderr
    assert "Traceback" not in done.stderr
    assert not any(tmp_path.iterdir())  # nothing was opened or created


def test_each_worker_process_gets_the_budget() -> None:
    args = _parser().parse_args(["serve", "--workers", "2", "--max-response-bytes", "100000"])
    spelled = _worker_args(args)
    assert spelled[spelled.index("--max-response-bytes") + 1] == "100000"
    assert _parser().parse_args(["serve", *spelled]).max_response_bytes == 100_000


def test_a_batch_at_the_default_budget_is_answered_and_its_change_read_by_a_default_client(
    tmp_path: Path,
) -> None:
    """A batch's one change carries every message: at the default batch limits (the most
    messages, the most bytes) its answer, its page of listChanges and its watch batch must
    still fit a default client's 4 MiB receive limit."""
    config = SessionController(tmp_path / "probe").config
    big = (config.max_batch_bytes - 998 * 10) // 2  # two near 1 MiB, 998 tiny: the whole budget
    batch = [SessionMessageInput(role=SessionMessageRole.role_user, content="b" * big) for _ in range(2)]
    batch += [SessionMessageInput(role=SessionMessageRole.role_user, content="t" * 10) for _ in range(998)]
    assert len(batch) == config.max_batch_messages
    assert sum(len(m.content) for m in batch) == config.max_batch_bytes - (config.max_batch_bytes % 2)
    with SessionController(tmp_path / "data") as controller:
        running = start_server(controller, "127.0.0.1:0")
        try:
            with grpc.insecure_channel(running.address) as ch:  # no options: the default 4 MiB limit
                stubs = Stubs(ch)
                messages = message_pb2_grpc.SessionMessageControllerStub(ch)  # type: ignore[no-untyped-call]
                changes = change_pb2_grpc.SessionChangeControllerStub(ch)  # type: ignore[no-untyped-call]
                session_id = stubs.command.create(make_session("batched")).metadata.id
                answer = messages.appendMessages(
                    AppendSessionMessagesRequest(session_id=session_id, messages=batch)
                )
                assert len(answer.messages) == 1000
                page = changes.listChanges(ListSessionChangesRequest(after_revision=1))
                assert [len(c.messages) for c in page.changes] == [1000]
                watched = changes.watch(WatchSessionChangesRequest(after_revision=1))
                first = next(r for r in watched if r.HasField("change"))
                watched.cancel()
                assert len(first.change.messages) == 1000
        finally:
            running.stop(grace=None)
