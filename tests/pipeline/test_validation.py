from typing import Literal

from protobuf import Oneof
from protovalidate._gen.buf.validate.validate_pb import FieldPath, FieldPathElement, Violation

from pipeline.validation import field_path, violations_of
from stigmer_sessions.api import ApiResourceOwnerScope, ListSessionsRequest, Session
from tests.conftest import make_session


def test_every_violation_is_reported() -> None:
    found = violations_of(Session())
    assert {(v.field, v.rule_id) for v in found} == {("metadata", "required"), ("spec", "required")}


def test_owner_scope_rule_id_and_message() -> None:
    s = make_session()
    s.metadata.owner_scope = ApiResourceOwnerScope.platform
    (v,) = violations_of(s)
    assert v.field == "metadata"
    assert v.rule_id == "session.owner_scope.org_or_identity_only"
    assert v.message == "Session resources can only have organization or identity_account scope"


def test_wrong_api_version_and_kind_are_violations_but_empty_is_fine() -> None:
    s = make_session()
    assert violations_of(s) == []
    s.api_version, s.kind = "v0", "Agent"
    assert {v.field for v in violations_of(s)} == {"api_version", "kind"}


def test_nested_required_field() -> None:
    s = make_session(agent="")
    assert [(v.field, v.rule_id) for v in violations_of(s)] == [("spec.agent_instance_id", "required")]


def test_negative_page_size_is_invalid() -> None:
    assert [v.field for v in violations_of(ListSessionsRequest(page_size=-1))] == ["page_size"]


def test_field_path_renders_subscripts() -> None:
    key: Oneof[Literal["string_key"], str] = Oneof("string_key", "env")
    index: Oneof[Literal["index"], int] = Oneof("index", 2)
    labels = FieldPath(
        elements=[
            FieldPathElement(field_name="metadata"),
            FieldPathElement(field_name="labels", subscript=key),
        ]
    )
    assert field_path(Violation(field=labels)) == 'metadata.labels["env"]'
    tags = FieldPath(elements=[FieldPathElement(field_name="tags", subscript=index)])
    assert field_path(Violation(field=tags)) == "tags[2]"
