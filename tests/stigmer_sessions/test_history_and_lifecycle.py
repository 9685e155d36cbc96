"""Conversation history, lifecycle phases, quotas and generated names through the controller."""

from __future__ import annotations

from collections import Counter

import pytest

from pipeline.errors import (
    Aborted,
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    ResourceExhausted,
)
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.config import SessionConfig, load_lifecycle
from tests.conftest import make_session, race


def test_append_100_then_resume_returns_them_in_order(controller: SessionController) -> None:
    s = controller.create(make_session())
    for i in range(100):
        controller.append_message(s.metadata.id, "user" if i % 2 == 0 else "assistant", f"message {i}")
    resumed = controller.resume(s.metadata.id)
    assert [m.content for m in resumed.messages] == [f"message {i}" for i in range(100)]
    assert [m.sequence for m in resumed.messages] == list(range(1, 101))
    assert resumed.session.state.message_count == 100
    assert resumed.earlier_page_token == ""


def test_messages_of_two_sessions_never_mix(controller: SessionController) -> None:
    a, b = controller.create(make_session("a")), controller.create(make_session("b"))
    race(8, lambda i: controller.append_message((a if i % 2 else b).metadata.id, "user", f"{i % 2}-{i}"))
    for s, parity in ((a, "1"), (b, "0")):
        messages = controller.list_messages(session_id=s.metadata.id).messages
        assert [m.sequence for m in messages] == [1, 2, 3, 4]  # gap-free per session under concurrency
        assert all(m.content.startswith(parity) and m.session_id == s.metadata.id for m in messages)


def test_delete_cascades_to_messages(controller: SessionController, store: Storage) -> None:
    s, keep = controller.create(make_session("gone")), controller.create(make_session("kept"))
    for target in (s, keep):
        controller.append_message(target.metadata.id, "user", "hi")
    controller.delete(s.metadata.id)
    assert store.read(lambda txn: [p for _, p, _ in txn.children.parents()]) == [keep.metadata.id]
    with pytest.raises(NotFound):
        controller.list_messages(session_id=s.metadata.id)


def test_append_errors(controller: SessionController, store: Storage) -> None:
    s = controller.create(make_session())
    with pytest.raises(NotFound):
        controller.append_message("ses-none", "user", "x")
    controller.transition(s.metadata.id, "completed")
    with pytest.raises(FailedPrecondition, match="'completed', which does not accept messages"):
        controller.append_message(s.metadata.id, "user", "too late")
    with pytest.raises(InvalidArgument):
        controller.append_message(s.metadata.id, "unspecified", "no role")
    assert store.read(lambda txn: list(txn.children.parents())) == []


def test_message_size_limit_is_configurable(store: Storage) -> None:
    controller = SessionController(store=store, config=SessionConfig(max_message_bytes=100))
    s = controller.create(make_session())
    controller.append_message(s.metadata.id, "user", "x" * 100)
    with pytest.raises(InvalidArgument, match="the limit is 100 bytes"):
        controller.append_message(s.metadata.id, "user", "x" * 101)


def test_history_events_and_idempotent_append(controller: SessionController) -> None:
    s = controller.create(make_session())
    first = controller.append_message(s.metadata.id, "user", "once", request_id="m-1")
    assert controller.append_message(s.metadata.id, "user", "once", request_id="m-1") == first
    controller.transition(s.metadata.id, "paused", caused_by="user-clicked-pause", reason="lunch")
    types = [c.type for c in controller.events()]
    assert types == ["SessionCreated", "SessionMessageAppended", "SessionPhaseChanged"]
    moved = list(controller.events())[2]
    assert (moved.caused_by, moved.reason) == ("user-clicked-pause", "lunch")


@pytest.mark.parametrize("name", ["default", "reveal", "worker"])
def test_each_lifecycle_end_to_end(store: Storage, name: str) -> None:
    lifecycle = load_lifecycle(name)
    controller = SessionController(store=store, config=SessionConfig(lifecycle=lifecycle))
    s = controller.create(make_session(name))
    assert s.state.phase == lifecycle.initial
    for target in lifecycle.phases:
        if target == s.state.phase:
            continue
        allowed = target in lifecycle.allowed_from(s.state.phase)
        if allowed:
            continue
        with pytest.raises(FailedPrecondition) as err:
            controller.transition(s.metadata.id, target)
        allowed_text = ", ".join(lifecycle.allowed_from(s.state.phase)) or "none"
        assert err.value.message == (
            f"cannot move session {s.metadata.id} to {target!r}: it is in {s.state.phase!r}; "
            f"allowed from {s.state.phase!r}: {allowed_text}"
        )
        assert controller.get(s.metadata.id) == s  # changed nothing
    first_move = lifecycle.allowed_from(lifecycle.initial)[0]
    moved = controller.transition(s.metadata.id, first_move)
    assert moved.state.phase == first_move
    assert controller.transition(s.metadata.id, first_move) == moved  # same phase: no-op


def test_transition_with_stale_version_is_aborted(controller: SessionController) -> None:
    s = controller.create(make_session())
    controller.transition(s.metadata.id, "paused")
    with pytest.raises(Aborted):
        controller.transition(s.metadata.id, "active", expected_version=s.metadata.version.id)


def test_quota_race_admits_exactly_n(store: Storage) -> None:
    controller = SessionController(store=store, config=SessionConfig(max_sessions_per_org=5))
    for i in range(4):
        controller.create(make_session(f"pre{i}"))
    results = race(6, lambda i: controller.create(make_session(f"race{i}")))
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"Session": 1, "ResourceExhausted": 5}
    assert controller.list(org="acme").total_size == 5


def test_dry_run_sees_the_quota(store: Storage) -> None:
    controller = SessionController(store=store, config=SessionConfig(max_sessions_per_org=1))
    controller.create(make_session("one"))
    with pytest.raises(ResourceExhausted):
        controller.create(make_session("two"), dry_run=True)


def test_generated_names_are_unique_under_concurrency(controller: SessionController) -> None:
    results = race(10, lambda i: controller.create(make_session("")))
    names = [r.metadata.name for r in results]
    assert not [r for r in results if isinstance(r, Exception)]
    assert len(set(names)) == 10
    date = names[0].split("-", 1)[1][:10]
    assert sorted(names) == [f"session-{date}-{n:03d}" for n in range(1, 11)]


def test_restart_recovery_moves_live_sessions(store_url: str) -> None:
    worker = SessionConfig(lifecycle=load_lifecycle("worker"))
    with SessionController(store=store_url, config=worker) as c:
        running = c.create(make_session("running"))
        c.transition(running.metadata.id, "active")
        waiting = c.create(make_session("waiting"))
        c.transition(waiting.metadata.id, "active")
        c.transition(waiting.metadata.id, "waiting")
        stopped = c.create(make_session("stopped"))
        c.transition(stopped.metadata.id, "stopped")
        before = len(list(c.events()))
    with SessionController(store=store_url, config=worker) as c:  # "restart"
        moved = c.recover()
        assert sorted(moved) == sorted([running.metadata.id, waiting.metadata.id])
        assert {c.get(i).state.phase for i in moved} == {"idle"}
        assert c.get(stopped.metadata.id).state.phase == "stopped"
        recovery = list(c.events(after=before))
        assert [(e.type, e.caused_by, e.actor_id) for e in recovery] == [
            ("SessionPhaseChanged", "restart-recovery", "recovery")
        ] * 2
        assert c.recover() == []


def test_recovery_is_off_for_the_default_lifecycle(controller: SessionController) -> None:
    controller.create(make_session())
    assert controller.recover() == []


def test_duplicates_still_refused_with_generated_names(controller: SessionController) -> None:
    controller.create(make_session("session-2099-01-01-001"))
    with pytest.raises(AlreadyExists):
        controller.create(make_session("session-2099-01-01-001"))
