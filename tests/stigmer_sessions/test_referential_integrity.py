"""--require-agent-instance: a session names an agent instance of its org, and an instance
with sessions is deleted only with cascade; all of it in the write's own transaction."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest

from pipeline.errors import FailedPrecondition
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import command_pb2_grpc as ai_command
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2_grpc, query_pb2_grpc
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceId,
    AgentInstanceSpec,
    ApiResourceMetadata,
    ApiResourceOwnerScope,
    Session,
    SessionId,
)
from stigmer_sessions.cli import _parser, _worker_args
from stigmer_sessions.config import SessionConfig
from tests.conftest import data_tables, make_session, race, start_server_process


@pytest.fixture
def strict(store: Storage) -> Iterator[SessionController]:
    with SessionController(store=store, config=SessionConfig(require_agent_instance=True)) as controller:
        yield controller


def instance(name: str = "bot", org: str = "acme") -> AgentInstance:
    return AgentInstance(
        metadata=ApiResourceMetadata(name=name, org=org, owner_scope=ApiResourceOwnerScope.organization),
        spec=AgentInstanceSpec(agent_id="agt-1"),
    )


def session_ids(controller: SessionController) -> set[str]:
    return {s.metadata.id for s in controller.list(page_size=1000).entries}


def test_a_session_must_name_an_instance_of_its_org(strict: SessionController) -> None:
    before = data_tables(strict.store)
    with pytest.raises(FailedPrecondition, match="agent instance 'ain-nope' does not exist in org 'acme'"):
        strict.create(make_session(agent="ain-nope"))
    assert data_tables(strict.store) == before  # nothing written, no change recorded
    bot = strict.agent_instances.create(instance())
    created = strict.create(make_session(agent=bot.metadata.id))
    assert created.spec.agent_instance_id == bot.metadata.id
    with pytest.raises(FailedPrecondition, match="does not exist in org 'other'"):
        strict.create(make_session("elsewhere", org="other", agent=bot.metadata.id))
    with pytest.raises(FailedPrecondition, match="does not exist in org 'acme'"):
        strict.apply(make_session("applied", agent="ain-nope"))


def test_an_update_or_apply_to_a_missing_instance_changes_nothing(strict: SessionController) -> None:
    bot = strict.agent_instances.create(instance())
    created = strict.create(make_session(agent=bot.metadata.id))
    moved = Session()
    moved.CopyFrom(created)
    moved.spec.agent_instance_id = "ain-gone"
    before = data_tables(strict.store)
    with pytest.raises(FailedPrecondition, match="'ain-gone' does not exist"):
        strict.update(moved)
    with pytest.raises(FailedPrecondition, match="'ain-gone' does not exist"):
        strict.apply(moved)
    assert data_tables(strict.store) == before
    assert strict.get(created.metadata.id) == created


def test_an_instance_with_sessions_goes_only_with_cascade(strict: SessionController) -> None:
    bot = strict.agent_instances.create(instance())
    ids = {strict.create(make_session(f"s{i}", agent=bot.metadata.id)).metadata.id for i in range(2)}
    strict.append_message(next(iter(ids)), "user", "hello")
    before = data_tables(strict.store)
    with pytest.raises(FailedPrecondition, match="still has 2 session\\(s\\) in org 'acme'"):
        strict.agent_instances.delete(bot.metadata.id)
    strict.agent_instances.delete(bot.metadata.id, cascade=True, dry_run=True)
    assert data_tables(strict.store) == before  # refused and dry run: nothing changed
    head = strict.store.read(lambda tx: tx.changes.current_revision())

    deleted = strict.agent_instances.delete(bot.metadata.id, cascade=True, request_id="r-1")

    assert deleted.metadata.id == bot.metadata.id and session_ids(strict) == set()
    changes = list(strict.events(after=head))
    assert sorted(c.resource_id for c in changes) == sorted(ids)
    assert {(c.type, c.request_id) for c in changes} == {("SessionDeleted", "r-1")}
    (gone,) = strict.agent_instances.list_changes(after_revision=head).changes
    assert gone.type == "AgentInstanceDeleted" and gone.revision > max(c.revision for c in changes)
    # the replay answers from the remembered response and deletes nothing more
    assert strict.agent_instances.delete(bot.metadata.id, cascade=True, request_id="r-1") == deleted


def test_without_the_flag_nothing_is_checked_as_in_stigmer(controller: SessionController) -> None:
    orphan = controller.create(make_session(agent="ain-nope"))  # no such instance: fine
    bot = controller.agent_instances.create(instance())
    kept = controller.create(make_session("kept", agent=bot.metadata.id))
    controller.agent_instances.delete(bot.metadata.id)
    assert session_ids(controller) == {orphan.metadata.id, kept.metadata.id}  # the sessions stay
    again = controller.agent_instances.create(instance("again"))
    controller.create(make_session("doomed", agent=again.metadata.id))
    controller.agent_instances.delete(again.metadata.id, cascade=True)  # asked for: honoured
    assert session_ids(controller) == {orphan.metadata.id, kept.metadata.id}


def test_a_delete_racing_creates_never_leaves_a_session_without_its_instance(
    strict: SessionController,
) -> None:
    for round_ in range(3):
        bot = strict.agent_instances.create(instance(f"bot-{round_}"))

        def act(i: int, bot_id: str = bot.metadata.id, r: int = round_) -> object:
            if i == 0:
                return strict.agent_instances.delete(bot_id)
            return strict.create(make_session(f"r{r}-s{i}", agent=bot_id))

        results = race(6, act)
        deleted = not isinstance(results[0], Exception)
        made = [r for r in results[1:] if isinstance(r, Session)]
        refused = [r for r in results if isinstance(r, FailedPrecondition)]
        assert len(made) + len(refused) + int(deleted) == 6, results  # nothing else went wrong
        if deleted:  # the delete saw no session: every create after it was refused
            assert made == [] and len(refused) == 5
        else:  # it saw the sessions created before it, and they are all there
            assert "still has" in str(results[0]) and made
        stored = {
            s.metadata.id for s in strict.list_by_agent(agent_id=bot.metadata.id, page_size=100).entries
        }
        assert stored == {s.metadata.id for s in made}


def test_worker_processes_get_the_flag_too() -> None:
    args = _parser().parse_args(["serve", "--workers", "2", "--require-agent-instance"])
    assert _parser().parse_args(["serve", *_worker_args(args)]).require_agent_instance is True
    plain = _parser().parse_args(["serve", "--workers", "2"])
    assert _parser().parse_args(["serve", *_worker_args(plain)]).require_agent_instance is False


def test_the_flag_and_x_cascade_over_grpc(tmp_path: Path) -> None:
    proc, event = start_server_process(
        "--address", "127.0.0.1:0", "--data-dir", str(tmp_path / "data"), "--require-agent-instance"
    )
    try:
        with grpc.insecure_channel(event["address"]) as channel:
            sessions = command_pb2_grpc.SessionCommandControllerStub(channel)  # type: ignore[no-untyped-call]
            instances = ai_command.AgentInstanceCommandControllerStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.RpcError) as refused:
                sessions.create(make_session(agent="ain-nope"))
            assert refused.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            bot = instances.create(instance())
            created = sessions.create(make_session(agent=bot.metadata.id))
            with pytest.raises(grpc.RpcError) as kept:
                instances.delete(AgentInstanceId(value=bot.metadata.id))
            assert kept.value.code() == grpc.StatusCode.FAILED_PRECONDITION
            assert "still has 1 session(s)" in (kept.value.details() or "")
            instances.delete(AgentInstanceId(value=bot.metadata.id), metadata=(("x-cascade", "true"),))
            query = query_pb2_grpc.SessionQueryControllerStub(channel)  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.RpcError) as gone:
                query.get(SessionId(value=created.metadata.id))
            assert gone.value.code() == grpc.StatusCode.NOT_FOUND
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
        event["drain"].join(30)
