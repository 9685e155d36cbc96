import re

from pipeline.keys import SLUG
from pipeline.steps import BuildNewState
from tests.conftest import RunStep, make_session

NOW = 1_700_000_000_123_456_789


def test_builds_id_defaults_audit_and_version(run_step: RunStep) -> None:
    request = make_session("Standup")
    request.status.audit.spec_audit.event = "forged"  # server-managed: must be dropped
    ctx = run_step(BuildNewState(), request, values={SLUG: "standup"}, actor="alice", now_ns=NOW, write=False)
    state = ctx.new_state
    assert re.match(r"^ses-[0-9a-z]{26}$", state.metadata.id)
    assert (state.api_version, state.kind) == ("agentic.stigmer.ai/v1", "Session")
    assert state.metadata.slug == "standup"
    for audit in (state.status.audit.spec_audit, state.status.audit.status_audit):
        assert audit.created_by.id == audit.updated_by.id == "alice"
        assert audit.created_at.ToNanoseconds() == audit.updated_at.ToNanoseconds() == NOW
        assert audit.event == "created"
    assert state.metadata.version.id
    assert state.metadata.version.previous_version_id == ""
    assert state.spec == request.spec
    assert request.metadata.id == ""  # input untouched


def test_every_create_gets_a_new_id_and_version(run_step: RunStep) -> None:
    a = run_step(BuildNewState(), make_session(), values={SLUG: "s"}, write=False).new_state
    b = run_step(BuildNewState(), make_session(), values={SLUG: "s"}, write=False).new_state
    assert a.metadata.id != b.metadata.id
    assert a.metadata.version.id != b.metadata.version.id
