import pytest

from pipeline import events
from pipeline.errors import Internal
from pipeline.events import EventHub
from pipeline.keys import CAUSED_BY, EVENT, EXISTING, REQUEST_ID, RESPONSE, UNCHANGED
from pipeline.resource import ResourceKind
from pipeline.steps import AppendEvent
from pipeline.storage import Storage
from stigmer_sessions.api import Session, SessionChange
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
