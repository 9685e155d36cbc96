from __future__ import annotations

import pytest

from pipeline import events
from pipeline.errors import FailedPrecondition
from pipeline.keys import CASCADE, EXISTING, REQUEST_ID
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceId,
    AgentInstanceSpec,
    ApiResourceMetadata,
    SessionChange,
)
from stigmer_sessions.resource import SESSION
from stigmer_sessions.steps import GuardSessions
from tests.conftest import RunStep, make_session

INSTANCE = AgentInstance(
    metadata=ApiResourceMetadata(id="ain-1", name="bot", slug="bot", org="acme"),
    spec=AgentInstanceSpec(agent_id="agt-1"),
)


def sessions_of(controller: SessionController) -> list[str]:
    """Two sessions of ain-1 in acme (one with a message), one of ain-1 elsewhere, one of
    another instance; returns the two ids."""
    ids = [controller.create(make_session(f"s{i}", agent="ain-1")).metadata.id for i in range(2)]
    controller.append_message(ids[0], "user", "hello")
    controller.create(make_session("elsewhere", org="other", agent="ain-1"))
    controller.create(make_session("unrelated", agent="ain-2"))
    return ids


def session_ids(store: Storage) -> set[str]:
    return store.read(lambda tx: {s.metadata.id for s, _ in tx.records(SESSION).scan_sized()})


def test_refusing_names_how_many_sessions_remain(run_step: RunStep, controller: SessionController) -> None:
    sessions_of(controller)
    before = session_ids(controller.store)
    with pytest.raises(FailedPrecondition) as caught:
        run_step(GuardSessions(refuse=True), AgentInstanceId(value="ain-1"), values={EXISTING: INSTANCE})
    assert "still has 2 session(s) in org 'acme'" in str(caught.value)
    assert "x-cascade: true" in str(caught.value)
    assert session_ids(controller.store) == before


def test_without_sessions_or_without_refuse_it_lets_the_delete_go(
    run_step: RunStep, controller: SessionController
) -> None:
    lonely = AgentInstance(metadata=ApiResourceMetadata(id="ain-9", org="acme"), spec=INSTANCE.spec)
    run_step(GuardSessions(refuse=True), AgentInstanceId(value="ain-9"), values={EXISTING: lonely})
    sessions_of(controller)
    before = session_ids(controller.store)
    run_step(GuardSessions(refuse=False), AgentInstanceId(value="ain-1"), values={EXISTING: INSTANCE})
    assert session_ids(controller.store) == before  # Stigmer's behaviour: the sessions stay


@pytest.mark.parametrize("refuse", [True, False])
def test_cascade_deletes_the_sessions_their_messages_and_records_each(
    run_step: RunStep, controller: SessionController, refuse: bool
) -> None:
    doomed = sessions_of(controller)
    before = session_ids(controller.store)
    head = controller.store.read(lambda tx: tx.changes.current_revision())
    run_step(
        GuardSessions(refuse=refuse),
        AgentInstanceId(value="ain-1"),
        values={EXISTING: INSTANCE, CASCADE: True, REQUEST_ID: "req-1"},
        actor="alice",
    )
    assert session_ids(controller.store) == before - set(doomed)
    assert controller.store.read(lambda tx: tx.children.last_sequence(SESSION.name, doomed[0])) == 0
    changes = controller.store.read(
        lambda tx: list(events.scan(tx, SessionChange, kind=SESSION.name, after_revision=head))
    )
    assert [(c.type, c.resource_id, c.actor_id, c.caused_by) for c in changes] == [
        ("SessionDeleted", i, "alice", "req-1") for i in doomed
    ]
    assert all(c.reason == "cascade: agent instance ain-1 deleted" for c in changes)
