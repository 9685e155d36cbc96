from pipeline.keys import EXISTING, UNCHANGED
from stigmer_sessions import SessionController
from stigmer_sessions.api import TransitionSessionRequest
from stigmer_sessions.steps import ApplyTransition
from tests.conftest import RunStep, make_session

NOW = 1_700_000_000 * 10**9


def test_moves_phase_and_stamps(run_step: RunStep, controller: SessionController) -> None:
    session = controller.create(make_session())
    request = TransitionSessionRequest(session_id=session.metadata.id, phase="paused")
    ctx = run_step(
        ApplyTransition(), request, values={EXISTING: session}, actor="ops", now_ns=NOW, write=False
    )
    state = ctx.new_state
    assert ctx[UNCHANGED] is False
    assert (state.state.phase, state.state.phase_changed_at.ToNanoseconds()) == ("paused", NOW)
    assert state.status.audit.status_audit.updated_by.id == "ops"
    assert state.metadata.version.previous_version_id == session.metadata.version.id


def test_same_phase_is_unchanged(run_step: RunStep, controller: SessionController) -> None:
    session = controller.create(make_session())
    request = TransitionSessionRequest(session_id=session.metadata.id, phase="active")
    ctx = run_step(ApplyTransition(), request, values={EXISTING: session}, write=False)
    assert ctx[UNCHANGED] is True
    assert ctx.new_state == session
