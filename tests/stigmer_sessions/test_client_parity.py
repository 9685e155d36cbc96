"""One suite, two transports: every test runs against the SessionController and against a
SessionClient talking to a real server that serves a controller on the test's store, and
must see the same results and the same typed errors."""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from itertools import islice
from typing import Any

import pytest

from pipeline.errors import Aborted, AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from pipeline.methods import KindMethods
from stigmer_sessions import SessionController
from stigmer_sessions.api import Session, SessionMessageRole
from stigmer_sessions.client import AsyncSessionClient, SessionClient
from stigmer_sessions.grpc_server import start_server
from stigmer_sessions.methods import AgentInstanceMethods, SessionMethods
from tests.conftest import make_agent_instance, make_session

#: What only a process holding the store does: every other public SessionController method
#: must come from SessionMethods, so that both clients have it.
LOCAL_ONLY = {
    "check",
    "close",
    "compact_changes",
    "export",
    "hub",
    "import_",
    "pipelines",
    "recover",
    "reindex",
    "run",
    "sizes",
    "watch_poll_s",
}


@pytest.fixture(params=["controller", "client"])
def api(request: pytest.FixtureRequest, controller: SessionController) -> Iterator[Any]:
    if request.param == "controller":
        yield controller
        return
    running = start_server(controller, "127.0.0.1:0", max_workers=4)
    client = SessionClient(running.address)
    yield client
    client.close()
    running.stop(grace=None)


def test_create_get_update_apply_delete(api: Any) -> None:
    created = api.create(make_session("Standup"), actor="ann")
    sid = created.metadata.id
    assert api.get(sid) == created
    assert api.get_by_reference(org="acme", slug=created.metadata.slug) == created
    changed = Session()
    changed.CopyFrom(created)
    changed.spec.subject = "daily"
    updated = api.update(changed, actor="ann")
    assert updated.spec.subject == "daily" and updated.metadata.version.id != created.metadata.version.id
    changed.CopyFrom(updated)
    changed.spec.subject = "weekly"
    assert api.apply(changed).spec.subject == "weekly"
    assert api.delete(sid).metadata.id == sid
    with pytest.raises(NotFound):
        api.get(sid)


def test_dry_run_writes_nothing(api: Any) -> None:
    preview = api.create(make_session("Preview"), dry_run=True)
    assert preview.metadata.name == "Preview"
    assert list(api.list(org="acme").entries) == []


def test_list_pin_and_transition(api: Any) -> None:
    one = api.create(make_session("one"))
    two = api.create(make_session("two"))
    assert [s.metadata.id for s in api.list(org="acme").entries] == [two.metadata.id, one.metadata.id]
    assert api.pin(one.metadata.id).state.pinned
    assert not api.unpin(one.metadata.id).state.pinned
    moved = api.transition(one.metadata.id, "active", reason="started")
    assert moved.state.phase == "active"


def test_messages_append_list_and_resume(api: Any) -> None:
    sid = api.create(make_session()).metadata.id
    first = api.append_message(sid, "user", "hello", metadata={"k": "v"})
    batch = api.append_messages(sid, [("assistant", "hi"), (SessionMessageRole.role_tool, "t", {"x": "y"})])
    assert isinstance(batch, list)
    assert [m.sequence for m in (first, *batch)] == [1, 2, 3]
    assert list(api.list_messages(session_id=sid).messages) == [first, *batch]
    assert [
        m.content for m in api.list_messages(session_id=sid, newest_first=True, page_size=1).messages
    ] == ["t"]
    resumed = api.resume(sid, page_size=2)
    assert resumed.session.metadata.id == sid and [m.content for m in resumed.messages] == ["hi", "t"]


def test_list_changes_events_and_watch(api: Any) -> None:
    one = api.create(make_session("one"))
    api.pin(one.metadata.id)
    page = api.list_changes(session_id=one.metadata.id)
    assert [c.type for c in page.changes] == ["SessionCreated", "SessionPinned"]
    assert [c.type for c in api.events(session_id=one.metadata.id)] == ["SessionCreated", "SessionPinned"]
    items = api.watch(after_revision=0)
    changes = [r.change for r in islice((r for r in items if r.HasField("change")), 2)]
    items.close()
    assert [c.type for c in changes] == ["SessionCreated", "SessionPinned"]


def test_agent_instances(api: Any) -> None:
    instance = api.agent_instances.create(make_agent_instance())
    assert api.agent_instances.get(instance.metadata.id) == instance
    page = api.agent_instances.get_by_agent(agent_id="agt-1")
    assert [i.metadata.id for i in page.items] == [instance.metadata.id]


def test_typed_errors(api: Any) -> None:
    with pytest.raises(NotFound):
        api.get("ses-missing")
    created = api.create(make_session("Taken", slug="taken"))
    with pytest.raises(AlreadyExists):
        api.create(make_session("Taken", slug="taken"))
    with pytest.raises(InvalidArgument) as invalid:
        api.create(Session())
    assert invalid.value.violations and all(v.field for v in invalid.value.violations)
    api.pin(created.metadata.id)
    with pytest.raises(Aborted):
        api.unpin(created.metadata.id, expected_version=created.metadata.version.id)
    api.transition(created.metadata.id, "completed")
    with pytest.raises(FailedPrecondition):
        api.append_message(created.metadata.id, "user", "too late")


def test_a_replayed_request_id_is_applied_once(api: Any) -> None:
    first = api.create(make_session("Once"), request_id="req-1")
    again = api.create(make_session("Once"), request_id="req-1")
    assert again == first
    sid = first.metadata.id
    appended = api.append_message(sid, "user", "hi", request_id="req-2")
    assert api.append_message(sid, "user", "hi", request_id="req-2") == appended
    assert len(api.list_messages(session_id=sid).messages) == 1


def _public(cls: type) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def test_every_rpc_method_of_the_controller_is_on_both_clients() -> None:
    # a method added to SessionController itself (not to SessionMethods) would be missing
    # from the clients: it must be local-only, or move to stigmer_sessions.methods
    own = {
        name
        for name in _public(SessionController)
        if not hasattr(SessionMethods, name) and not hasattr(KindMethods, name)
    }
    missing = own - {"watch", "agent_instances", "resources", "store", "config", "kinds"} - LOCAL_ONLY
    assert not missing, f"move {sorted(missing)} to stigmer_sessions.methods.SessionMethods, or to LOCAL_ONLY"
    shared = _public(SessionMethods) - {"kind", "types"}
    for client in (SessionClient, AsyncSessionClient):
        for name in shared | {"watch", "events"}:
            ours, theirs = getattr(client, name), getattr(SessionController, name)
            assert list(inspect.signature(ours).parameters) == list(inspect.signature(theirs).parameters), (
                name
            )
    assert _public(AgentInstanceMethods) - _public(KindMethods) == {"get_by_agent"}
