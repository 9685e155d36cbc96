import pytest

from pipeline import events
from pipeline.context import Key
from pipeline.errors import Internal
from pipeline.events import EventHub
from pipeline.keys import CAUSED_BY, CHILD, CHILDREN, EVENT, EXISTING, REQUEST_ID, RESPONSE, UNCHANGED
from pipeline.resource import ResourceKind, reference
from pipeline.steps import AppendEvent
from pipeline.storage import Storage
from stigmer_sessions.api import Session, SessionChange, SessionMessage, SessionMessagesRemoval
from stigmer_sessions.resource import SESSION
from tests.conftest import RunStep, make_session

NOW = 1_700_000_000 * 10**9


def stored(name: str = "a") -> Session:
    s = make_session(name)
    s.metadata.id = f"ses-{name}"
    return s


def test_created_when_nothing_existed(run_step: RunStep, store: Storage) -> None:
    values = {RESPONSE: stored(), EXISTING: None, REQUEST_ID: "req-1"}
    ctx = run_step(AppendEvent(), make_session(), values=values, actor="alice", now_ns=NOW)
    change = ctx[EVENT]
    assert (change.revision, change.type, change.resource_kind, change.resource_id) == (
        1,
        "SessionCreated",
        "session",
        "ses-a",
    )
    assert (change.org, change.actor_id, change.request_id, change.caused_by) == (
        "acme",
        "alice",
        "req-1",
        "req-1",
    )
    assert change.time.ToNanoseconds() == NOW
    assert change.session == stored()
    assert change.id.startswith("chg-")
    assert store.read(lambda txn: list(events.scan(txn, SessionChange, kind="session"))) == [change]


def test_updated_when_something_existed_and_explicit_verbs(run_step: RunStep) -> None:
    ctx = run_step(AppendEvent(), make_session(), values={RESPONSE: stored(), EXISTING: stored()})
    assert ctx[EVENT].type == "SessionUpdated"
    ctx = run_step(AppendEvent("Deleted"), make_session(), values={RESPONSE: stored(), EXISTING: stored()})
    assert (ctx[EVENT].type, ctx[EVENT].revision) == ("SessionDeleted", 2)


def test_caused_by_header_wins_over_request_id(run_step: RunStep) -> None:
    values = {RESPONSE: stored(), REQUEST_ID: "req", CAUSED_BY: "chg-upstream"}
    assert run_step(AppendEvent(), make_session(), values=values)[EVENT].caused_by == "chg-upstream"


def test_unchanged_records_nothing(run_step: RunStep, store: Storage) -> None:
    ctx = run_step(AppendEvent(), make_session(), values={RESPONSE: stored(), UNCHANGED: True})
    assert EVENT not in ctx
    assert store.read(lambda tx: tx.changes.current_revision()) == 0


def test_hub_hears_only_after_commit(run_step: RunStep) -> None:
    hub = EventHub()
    ctx = run_step(AppendEvent(hub=hub), make_session(), values={RESPONSE: stored()})
    assert hub.revision == 0  # run_step commits but does not run after_commit callbacks
    for callback in ctx.after_commit:
        callback()
    assert hub.revision == 1


def test_kind_without_change_type_is_internal(run_step: RunStep, store: Storage) -> None:
    bare = ResourceKind("thing", "Thing", "v1", "thg", Session)

    def step(ctx: object) -> None:
        ctx.kind = bare  # type: ignore[attr-defined]
        AppendEvent()(ctx)  # type: ignore[arg-type]

    with pytest.raises(Internal, match="no change type"):
        run_step(step, make_session(), values={RESPONSE: stored()})
    assert SESSION.event_type is SessionChange


def test_a_change_about_a_child_carries_it_and_a_reference_to_the_resource(
    run_step: RunStep, store: Storage
) -> None:
    session = stored()
    session.spec.subject = "a long subject a reference leaves out"
    message = SessionMessage(id="msg-1", session_id="ses-a", sequence=1, content="hi")
    values = {RESPONSE: session, EXISTING: session, CHILD: message}
    ctx = run_step(AppendEvent("MessageAppended", carry=CHILD), make_session(), values=values, now_ns=NOW)
    change = ctx[EVENT]
    assert change.type == "SessionMessageAppended" and list(change.messages) == [message]
    assert change.session == reference(session) and not change.session.spec.subject
    assert (change.session.metadata.id, change.session.metadata.org) == ("ses-a", "acme")
    assert change.session.metadata.version == session.metadata.version
    assert store.read(lambda txn: list(events.scan(txn, SessionChange, kind="session"))) == [change]


def test_carry_all_records_one_change_for_the_whole_batch(run_step: RunStep, store: Storage) -> None:
    """One change per write, however many children it stored: a batch is one revision."""
    session = stored()
    messages = [
        SessionMessage(id=f"msg-{i}", session_id="ses-a", sequence=i, content=c)
        for i, c in enumerate("abc", 1)
    ]
    hub = EventHub(0)
    values = {
        RESPONSE: session,
        EXISTING: session,
        CHILDREN: messages,
        REQUEST_ID: "req-9",
        CAUSED_BY: "cause",
    }
    step = AppendEvent("MessageAppended", hub, carry_all=CHILDREN)
    ctx = run_step(step, make_session(), values=values, actor="ann", now_ns=NOW)
    found = store.read(lambda txn: list(events.scan(txn, SessionChange, kind="session")))
    assert [(c.type, c.revision, [m.sequence for m in c.messages]) for c in found] == [
        ("SessionMessageAppended", 1, [1, 2, 3])
    ]
    (change,) = found
    assert (change.actor_id, change.request_id, change.caused_by) == ("ann", "req-9", "cause")
    assert change.session == reference(session) and list(change.messages) == messages
    assert ctx[EVENT] == change
    assert hub.revision == 0  # woken only after commit
    for callback in ctx.after_commit:
        callback()
    assert hub.revision == 1


def test_detail_adds_what_only_this_change_says(run_step: RunStep, store: Storage) -> None:
    detail_key: Key[SessionChange] = Key("test_detail")
    detail = SessionChange(removed=SessionMessagesRemoval(after_sequence=2, last_sequence=5, count=3))
    values = {RESPONSE: stored(), EXISTING: stored(), detail_key: detail}
    ctx = run_step(
        AppendEvent("MessagesRemoved", detail=detail_key), make_session(), values=values, now_ns=NOW
    )
    change = ctx[EVENT]
    assert change.type == "SessionMessagesRemoved" and change.session == stored()
    assert change.removed == detail.removed
    logged = store.read(lambda tx: list(events.scan(tx, SessionChange, kind="session")))
    assert logged[-1].removed == detail.removed, "the stored change lost the detail"
