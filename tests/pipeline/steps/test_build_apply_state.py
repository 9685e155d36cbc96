from pipeline.keys import EXISTING, SLUG, UNCHANGED
from pipeline.steps import BuildApplyState
from stigmer_sessions import SessionController
from tests.conftest import RunStep, make_session


def test_nothing_existing_builds_a_new_record(run_step: RunStep) -> None:
    ctx = run_step(BuildApplyState(), make_session("x"), values={EXISTING: None, SLUG: "x"}, write=False)
    assert ctx[UNCHANGED] is False
    assert ctx.new_state.metadata.id.startswith("ses-")
    assert ctx.new_state.status.audit.spec_audit.event == "created"


def test_existing_is_updated(run_step: RunStep, controller: SessionController) -> None:
    existing = controller.create(make_session("x"))
    request = make_session("x", subject="changed")
    ctx = run_step(BuildApplyState(), request, values={EXISTING: existing, SLUG: "x"}, write=False)
    assert ctx[UNCHANGED] is False
    assert ctx.new_state.metadata.id == existing.metadata.id
    assert ctx.new_state.spec.subject == "changed"
    assert ctx.new_state.status.audit.spec_audit.event == "updated"


def test_same_request_again_is_unchanged(run_step: RunStep, controller: SessionController) -> None:
    existing = controller.create(make_session("x"))
    ctx = run_step(BuildApplyState(), make_session("x"), values={EXISTING: existing, SLUG: "x"}, write=False)
    assert ctx[UNCHANGED] is True
    assert ctx.new_state == existing
