from pipeline.keys import EXISTING, UNCHANGED
from pipeline.steps import BuildUpdateState
from stigmer_sessions import SessionController
from stigmer_sessions.api import Session
from tests.conftest import RunStep, make_session


def _existing(controller: SessionController) -> Session:
    return controller.create(make_session("Original", tags=("a",)), actor="creator")


def test_client_fields_replaced_server_fields_preserved(
    run_step: RunStep, controller: SessionController
) -> None:
    existing = _existing(controller)
    request = Session()
    request.CopyFrom(existing)
    request.metadata.name = "Renamed"
    request.metadata.slug = "ignored"
    request.metadata.org = "elsewhere"
    request.metadata.labels["env"] = "prod"
    del request.metadata.tags[:]
    request.metadata.tags.append("b")
    request.spec.subject = "new subject"
    ctx = run_step(BuildUpdateState(), request, values={EXISTING: existing}, actor="editor", write=False)
    state = ctx.new_state
    assert ctx[UNCHANGED] is False
    assert state.metadata.name == "Renamed"
    assert dict(state.metadata.labels) == {"env": "prod"}
    assert list(state.metadata.tags) == ["b"]
    assert state.spec.subject == "new subject"
    assert (state.metadata.id, state.metadata.slug, state.metadata.org) == (
        existing.metadata.id,
        existing.metadata.slug,
        existing.metadata.org,
    )
    spec_audit = state.status.audit.spec_audit
    assert spec_audit.created_by.id == "creator"
    assert spec_audit.created_at == existing.status.audit.spec_audit.created_at
    assert spec_audit.updated_by.id == "editor"
    assert spec_audit.event == "updated"
    assert state.metadata.version.previous_version_id == existing.metadata.version.id
    assert state.metadata.version.id != existing.metadata.version.id


def test_no_change_keeps_the_stored_record(run_step: RunStep, controller: SessionController) -> None:
    existing = _existing(controller)
    ctx = run_step(BuildUpdateState(), existing, values={EXISTING: existing}, write=False)
    assert ctx[UNCHANGED] is True
    assert ctx.new_state == existing
