from pipeline.keys import EXISTING, UNCHANGED
from stigmer_sessions import Session, SessionController, SessionId
from stigmer_sessions.steps import SetPinned
from tests.conftest import RunStep, make_session

NOW = 1_700_000_000 * 10**9


def test_pin_sets_state_audit_and_version(run_step: RunStep, controller: SessionController) -> None:
    existing = controller.create(make_session())
    ctx = run_step(
        SetPinned(True), SessionId(), values={EXISTING: existing}, actor="bob", now_ns=NOW, write=False
    )
    state: Session = ctx.new_state
    assert ctx[UNCHANGED] is False
    assert (state.state.pinned, state.state.pinned_by, state.state.pinned_at.ToNanoseconds()) == (
        True,
        "bob",
        NOW,
    )
    assert state.status.audit.status_audit.updated_by.id == "bob"
    assert state.status.audit.spec_audit == existing.status.audit.spec_audit  # client part untouched
    assert state.metadata.version.previous_version_id == existing.metadata.version.id


def test_pinning_a_pinned_session_changes_nothing(run_step: RunStep, controller: SessionController) -> None:
    pinned = controller.pin(controller.create(make_session()).metadata.id)
    ctx = run_step(SetPinned(True), SessionId(), values={EXISTING: pinned}, actor="other", write=False)
    assert ctx[UNCHANGED] is True
    assert ctx.new_state == pinned


def test_unpin_clears_and_unpinning_twice_is_unchanged(
    run_step: RunStep, controller: SessionController
) -> None:
    pinned = controller.pin(controller.create(make_session()).metadata.id)
    pinned.state.message_count = 7  # other state is left alone
    ctx = run_step(SetPinned(False), SessionId(), values={EXISTING: pinned}, write=False)
    state = ctx.new_state.state
    assert (state.pinned, state.HasField("pinned_at"), state.pinned_by, state.message_count) == (
        False,
        False,
        "",
        7,
    )
    again = run_step(SetPinned(False), SessionId(), values={EXISTING: ctx.new_state}, write=False)
    assert again[UNCHANGED] is True
