"""The AgentInstance protos: Stigmer's wire shape (names, numbers, services) and our rules.

A client generated from Stigmer's own protos must work unchanged, so the field numbers, the
package and the method names are asserted here through the generated descriptors; the rules
(protovalidate options) are checked the way the server checks them (``pipeline.validation``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from google.protobuf.descriptor import FieldDescriptor, ServiceDescriptor
from google.protobuf.message import Message

from pipeline.validation import violations_of
from stigmer_sessions import api
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    api_pb2,
    change_pb2,
    command_pb2,
    io_pb2,
    query_pb2,
    spec_pb2,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import change_pb2 as session_change_pb2
from stigmer_sessions._gen.ai.stigmer.commons.rpc import pagination_pb2
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceChange,
    AgentInstanceId,
    AgentInstanceList,
    AgentInstanceSpec,
    ApiResourceKind,
    ApiResourceMetadata,
    ApiResourceOwnerScope,
    ApiResourceReference,
    GetAgentInstancesByAgentRequest,
    ListAgentInstanceChangesRequest,
    PageInfo,
    WatchAgentInstanceChangesRequest,
)

PACKAGE = "ai.stigmer.agentic.agentinstance.v1"
ENVIRONMENT = ApiResourceKind.environment
WORKFLOW_EXECUTION = ApiResourceKind.workflow_execution  # upstream's rule wrongly compares with it


def make_agent_instance(agent_id: str = "agt-1", **spec: Any) -> AgentInstance:
    """A valid create request."""
    return AgentInstance(
        metadata=ApiResourceMetadata(
            name="Support bot", org="acme", owner_scope=ApiResourceOwnerScope.organization
        ),
        spec=AgentInstanceSpec(agent_id=agent_id, **spec),
    )


def _rules(message: Message) -> set[tuple[str, str]]:
    """(field, rule id) of every rule ``message`` breaks, as the server's ValidateProto sees them."""
    return {(v.field, v.rule_id) for v in violations_of(message)}


# --- rules ---------------------------------------------------------------------------------


def test_a_valid_agent_instance_passes() -> None:
    instance = make_agent_instance(description="answers tickets")
    instance.spec.environment_refs.add(org="acme", kind=ApiResourceKind.environment, slug="prod")
    assert _rules(instance) == set()


def test_api_version_and_kind_must_be_stigmers_when_given() -> None:
    instance = make_agent_instance()
    instance.api_version, instance.kind = "agentic.stigmer.ai/v1", "AgentInstance"
    assert _rules(instance) == set()
    instance.api_version, instance.kind = "agentic.stigmer.ai/v2", "Session"
    assert _rules(instance) == {("api_version", "string.const"), ("kind", "string.const")}


def test_metadata_is_required() -> None:
    instance = make_agent_instance()
    instance.ClearField("metadata")
    assert _rules(instance) == {("metadata", "required")}


def test_agent_id_must_not_be_empty() -> None:
    assert _rules(make_agent_instance(agent_id="")) == {("spec.agent_id", "string.min_len")}
    no_spec = make_agent_instance()
    no_spec.ClearField("spec")
    assert _rules(no_spec) == {("spec", "required")}


def test_environment_refs_must_reference_kind_environment() -> None:
    instance = make_agent_instance()
    instance.spec.environment_refs.add(kind=ENVIRONMENT, slug="prod")
    instance.spec.environment_refs.add(kind=WORKFLOW_EXECUTION, slug="run")
    instance.spec.environment_refs.add(slug="unspecified")
    instance.spec.environment_refs.add(kind=ApiResourceKind.agent_instance, slug="other")
    rule = "agent_instance.environment_refs.kind_environment"
    assert _rules(instance) == {
        ("spec.environment_refs[1]", rule),
        ("spec.environment_refs[2]", rule),
        ("spec.environment_refs[3]", rule),
    }


@pytest.mark.parametrize("scope", ApiResourceOwnerScope.values(), ids=ApiResourceOwnerScope.keys())
def test_every_defined_owner_scope_passes(scope: int) -> None:
    instance = make_agent_instance()
    instance.metadata.owner_scope = scope  # type: ignore[assignment]
    assert _rules(instance) == set()


def test_an_undefined_owner_scope_is_refused() -> None:
    instance = make_agent_instance()
    instance.metadata.owner_scope = 99  # type: ignore[assignment]
    assert _rules(instance) == {("metadata.owner_scope", "enum.defined_only")}


def _with_metadata_id(value: str) -> AgentInstance:
    instance = make_agent_instance()
    instance.metadata.id = value
    return instance


# Each byte bound: a value at the limit passes; one over it in bytes but not in characters
# ("é" is two UTF-8 bytes) is refused, so the limit is in bytes, as storage keys need.
@pytest.mark.parametrize(
    ("build", "field", "limit"),
    [
        (lambda v: make_agent_instance(agent_id=v), "spec.agent_id", 127),
        (_with_metadata_id, "metadata.id", 63),
        (lambda v: AgentInstanceId(value=v), "value", 63),
        (lambda v: GetAgentInstancesByAgentRequest(agent_id=v), "agent_id", 127),
        (lambda v: GetAgentInstancesByAgentRequest(agent_id="agt-1", org=v), "org", 63),
    ],
    ids=["spec.agent_id", "metadata.id", "AgentInstanceId.value", "by-agent.agent_id", "by-agent.org"],
)
def test_byte_bounds(build: Callable[[str], Message], field: str, limit: int) -> None:
    assert _rules(build("x" * limit)) == set()
    over = "é" * (limit // 2 + 1)
    assert len(over) <= limit < len(over.encode())
    assert _rules(build(over)) == {(field, "string.max_bytes")}


def test_ids_and_agent_ids_are_required() -> None:
    assert _rules(AgentInstanceId()) == {("value", "required")}
    assert _rules(GetAgentInstancesByAgentRequest()) == {("agent_id", "required")}


def test_description_is_bounded_in_characters() -> None:
    assert _rules(make_agent_instance(description="é" * 4096)) == set()
    assert _rules(make_agent_instance(description="x" * 4097)) == {("spec.description", "string.max_len")}


def test_environment_refs_are_at_most_64() -> None:
    refs = [ApiResourceReference(kind=ENVIRONMENT, slug=f"env-{i}") for i in range(65)]
    assert _rules(make_agent_instance(environment_refs=refs[:64])) == set()
    assert _rules(make_agent_instance(environment_refs=refs)) == {
        ("spec.environment_refs", "repeated.max_items")
    }


def test_paging_fields() -> None:
    request = GetAgentInstancesByAgentRequest(agent_id="agt-1", page_info=PageInfo(num=0, size=0))
    assert _rules(request) == set()
    request.page_info.num, request.page_info.size = 3, 5000  # large sizes are clamped, not refused
    request.page_token = "t" * 128
    assert _rules(request) == set()
    request.page_info.num, request.page_info.size = -1, -1
    request.page_token = "t" * 129
    assert _rules(request) == {
        ("page_info.num", "int32.gte"),
        ("page_info.size", "int32.gte"),
        ("page_token", "string.max_len"),
    }


def test_change_requests_bound_their_filters() -> None:
    assert _rules(ListAgentInstanceChangesRequest(agent_instance_id="x" * 63, org="x" * 63)) == set()
    assert _rules(ListAgentInstanceChangesRequest(agent_instance_id="x" * 64, after_revision=-1)) == {
        ("agent_instance_id", "string.max_bytes"),
        ("after_revision", "int64.gte"),
    }
    assert _rules(WatchAgentInstanceChangesRequest(agent_instance_id="x" * 64)) == {
        ("agent_instance_id", "string.max_bytes")
    }


# --- wire shape ----------------------------------------------------------------------------


def _type_name(field: FieldDescriptor) -> str:
    """The full name of a message or enum field's type ("" for scalars)."""
    typed = field.message_type or field.enum_type
    return typed.full_name if typed is not None else ""


def _fields(descriptor: Any) -> dict[str, tuple[int, int, str]]:
    """name -> (number, type, message or enum type's full name) of each field."""
    return {f.name: (f.number, f.type, _type_name(f)) for f in descriptor.fields}


T = FieldDescriptor
METADATA = "ai.stigmer.commons.apiresource.ApiResourceMetadata"
REFERENCE = "ai.stigmer.commons.apiresource.ApiResourceReference"


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (
            AgentInstance,
            {
                "api_version": (1, T.TYPE_STRING, ""),
                "kind": (2, T.TYPE_STRING, ""),
                "metadata": (3, T.TYPE_MESSAGE, METADATA),
                "spec": (4, T.TYPE_MESSAGE, f"{PACKAGE}.AgentInstanceSpec"),
                "status": (5, T.TYPE_MESSAGE, "ai.stigmer.commons.apiresource.ApiResourceAuditStatus"),
            },
        ),
        (
            AgentInstanceSpec,
            {
                "agent_id": (1, T.TYPE_STRING, ""),
                "description": (2, T.TYPE_STRING, ""),
                "environment_refs": (3, T.TYPE_MESSAGE, REFERENCE),
            },
        ),
        (AgentInstanceId, {"value": (1, T.TYPE_STRING, "")}),
        (
            GetAgentInstancesByAgentRequest,
            {
                "agent_id": (1, T.TYPE_STRING, ""),
                "page_info": (2, T.TYPE_MESSAGE, "ai.stigmer.commons.rpc.PageInfo"),
                "page_token": (100, T.TYPE_STRING, ""),
                "org": (101, T.TYPE_STRING, ""),
            },
        ),
        (
            AgentInstanceList,
            {
                "total_count": (1, T.TYPE_INT32, ""),
                "items": (2, T.TYPE_MESSAGE, f"{PACKAGE}.AgentInstance"),
                "next_page_token": (100, T.TYPE_STRING, ""),
            },
        ),
        (PageInfo, {"num": (1, T.TYPE_INT32, ""), "size": (2, T.TYPE_INT32, "")}),
    ],
    ids=lambda v: v.DESCRIPTOR.name if hasattr(v, "DESCRIPTOR") else "",
)
def test_fields_are_stigmers(message: type[AgentInstance], expected: dict[str, tuple[int, int, str]]) -> None:
    assert _fields(message.DESCRIPTOR) == expected


def test_only_environment_refs_repeat() -> None:
    repeated = {
        f"{m.DESCRIPTOR.name}.{f.name}"
        for m in (
            AgentInstance,
            AgentInstanceSpec,
            AgentInstanceId,
            GetAgentInstancesByAgentRequest,
            PageInfo,
        )
        for f in m.DESCRIPTOR.fields
        if f.is_repeated
    }
    assert repeated == {"AgentInstanceSpec.environment_refs"}
    assert AgentInstanceList.DESCRIPTOR.fields_by_name["items"].is_repeated


def test_packages_and_files() -> None:
    assert AgentInstance.DESCRIPTOR.full_name == f"{PACKAGE}.AgentInstance"
    assert AgentInstance.DESCRIPTOR.file.name == "ai/stigmer/agentic/agentinstance/v1/api.proto"
    assert PageInfo.DESCRIPTOR.full_name == "ai.stigmer.commons.rpc.PageInfo"
    assert PageInfo.DESCRIPTOR.file.name == "ai/stigmer/commons/rpc/pagination.proto"
    go = "github.com/stigmer/stigmer/apis/stubs/go/ai/stigmer/agentic/agentinstance/v1"
    for module in (change_pb2, command_pb2, query_pb2):
        assert module.DESCRIPTOR.GetOptions().go_package == go


def test_api_resource_kind_numbers() -> None:
    kinds = dict(ApiResourceKind.items())
    assert kinds == {
        "api_resource_kind_unspecified": 0,
        "agent": 40,
        "session": 42,
        "agent_instance": 45,
        "workflow_execution": 52,
        "environment": 53,
    }


def _methods(service: ServiceDescriptor) -> dict[str, tuple[str, str, bool]]:
    """method name -> (input type, output type, server streaming)."""
    return {
        m.name: (m.input_type.full_name, m.output_type.full_name, m.server_streaming) for m in service.methods
    }


INSTANCE = f"{PACKAGE}.AgentInstance"


@pytest.mark.parametrize(
    ("module", "service", "expected"),
    [
        (
            command_pb2,
            "AgentInstanceCommandController",
            {
                "apply": (INSTANCE, INSTANCE, False),
                "create": (INSTANCE, INSTANCE, False),
                "update": (INSTANCE, INSTANCE, False),
                "delete": (f"{PACKAGE}.AgentInstanceId", INSTANCE, False),
            },
        ),
        (
            query_pb2,
            "AgentInstanceQueryController",
            {
                "get": (f"{PACKAGE}.AgentInstanceId", INSTANCE, False),
                "getByAgent": (
                    f"{PACKAGE}.GetAgentInstancesByAgentRequest",
                    f"{PACKAGE}.AgentInstanceList",
                    False,
                ),
                "getByReference": (REFERENCE, INSTANCE, False),
            },
        ),
        (
            change_pb2,
            "AgentInstanceChangeController",
            {
                "listChanges": (
                    f"{PACKAGE}.ListAgentInstanceChangesRequest",
                    f"{PACKAGE}.AgentInstanceChangeList",
                    False,
                ),
                "watch": (
                    f"{PACKAGE}.WatchAgentInstanceChangesRequest",
                    f"{PACKAGE}.WatchAgentInstanceChangesResponse",
                    True,
                ),
            },
        ),
    ],
    ids=["command", "query", "change"],
)
def test_services(module: object, service: str, expected: dict[str, tuple[str, str, bool]]) -> None:
    descriptor = module.DESCRIPTOR.services_by_name[service]  # type: ignore[attr-defined]
    assert descriptor.full_name == f"{PACKAGE}.{service}"  # the wire path is /<full_name>/<method>
    assert _methods(descriptor) == expected


# The generic change-feed code reads the Session and AgentInstance change messages by field
# name, so they must match field for field: same names, numbers, types and oneofs, but for the
# resource field and the resource id filter, named for the kind.
_RENAMED_FIELDS = {"session": "agent_instance", "session_id": "agent_instance_id"}


def _as_agent_instance(full_name: str) -> str:
    """A Session change type's name as its AgentInstance twin's."""
    session_package = "ai.stigmer.agentic.session.v1."
    if not full_name.startswith(session_package):
        return full_name  # google.protobuf.Timestamp and the like
    return PACKAGE + "." + full_name.removeprefix(session_package).replace("Session", "AgentInstance")


def _shape(descriptor: Any, rename: bool) -> dict[str, tuple[object, ...]]:
    """name -> (number, type, repeated, type name, oneof) of each field; with ``rename``, a
    Session message's shape as its AgentInstance twin should have it."""
    shape: dict[str, tuple[object, ...]] = {}
    for f in descriptor.fields:
        type_name = _type_name(f)
        name = _RENAMED_FIELDS.get(f.name, f.name) if rename else f.name
        oneof = f.containing_oneof.name if f.containing_oneof else ""
        shape[name] = (
            f.number,
            f.type,
            f.is_repeated,
            _as_agent_instance(type_name) if rename else type_name,
            oneof,
        )
    return shape


@pytest.mark.parametrize(
    "session_message",
    [
        "SessionChange",
        "ListSessionChangesRequest",
        "SessionChangeList",
        "WatchSessionChangesRequest",
        "WatchSessionChangesResponse",
        "SessionChangeBookmark",
    ],
)
def test_change_messages_mirror_the_session_ones(session_message: str) -> None:
    session = session_change_pb2.DESCRIPTOR.message_types_by_name[session_message]
    ours = change_pb2.DESCRIPTOR.message_types_by_name[
        _as_agent_instance(session.full_name).rsplit(".", 1)[1]
    ]
    expected = _shape(session, rename=True)
    if session_message == "SessionChange":  # about messages: sessions have children, instances none
        del expected["messages"], expected["removed"]
    assert _shape(ours, rename=False) == expected


def test_the_change_service_mirrors_the_session_one() -> None:
    session = session_change_pb2.DESCRIPTOR.services_by_name["SessionChangeController"]
    ours = change_pb2.DESCRIPTOR.services_by_name["AgentInstanceChangeController"]
    expected = {
        name: (_as_agent_instance(i), _as_agent_instance(o), streaming)
        for name, (i, o, streaming) in _methods(session).items()
    }
    assert _methods(ours) == expected
    assert (
        AgentInstanceChange.DESCRIPTOR.fields_by_name["agent_instance"].message_type
        is AgentInstance.DESCRIPTOR
    )


def test_the_api_module_re_exports_every_new_message() -> None:
    for module in (api_pb2, spec_pb2, io_pb2, change_pb2, pagination_pb2):
        for name in module.DESCRIPTOR.message_types_by_name:
            assert getattr(api, name) is getattr(module, name)
            assert name in api.__all__
    assert api.__all__ == sorted(api.__all__)
