"""SetInitialPhase, ValidateTransition and RequirePhase on hand-built contexts."""

import pytest

from pipeline.errors import FailedPrecondition
from pipeline.keys import EXISTING
from pipeline.steps import RequirePhase, SetInitialPhase, ValidateTransition
from stigmer_sessions.api import Session, TransitionSessionRequest
from stigmer_sessions.config import load_lifecycle
from tests.conftest import RunStep, make_session

REVEAL = load_lifecycle("reveal")


def in_phase(phase: str) -> Session:
    s = make_session()
    s.metadata.id = "ses-x"
    s.state.phase = phase
    return s


def test_set_initial_phase_only_when_creating(run_step: RunStep) -> None:
    ctx = run_step(SetInitialPhase(REVEAL), make_session(), values={EXISTING: None}, write=False)
    assert ctx.new_state.state.phase == "draft"
    ctx = run_step(
        SetInitialPhase(REVEAL), in_phase("closed"), values={EXISTING: in_phase("closed")}, write=False
    )
    assert ctx.new_state.state.phase == "closed"


def test_validate_transition(run_step: RunStep) -> None:
    request = TransitionSessionRequest(session_id="ses-x", phase="capturing")
    run_step(ValidateTransition(REVEAL), request, values={EXISTING: in_phase("draft")}, write=False)
    request.phase = "revealed"
    with pytest.raises(FailedPrecondition) as err:
        run_step(ValidateTransition(REVEAL), request, values={EXISTING: in_phase("draft")}, write=False)
    assert err.value.message == (
        "cannot move session ses-x to 'revealed': it is in 'draft'; allowed from 'draft': capturing"
    )


def test_require_phase(run_step: RunStep) -> None:
    step = RequirePhase(REVEAL.accepts_messages, "accept messages")
    run_step(step, make_session(), values={EXISTING: in_phase("capturing")}, write=False)
    with pytest.raises(FailedPrecondition) as err:
        run_step(step, make_session(), values={EXISTING: in_phase("closed")}, write=False)
    assert err.value.message == (
        "session ses-x is in 'closed', which does not accept messages; phases that do: capturing"
    )
