"""AgentInstance end to end over a real channel: our typed stubs, and a client that knows only
Stigmer's protos (our generated descriptors with every extension and rule stripped)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.descriptor import FileDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from stigmer_sessions import SessionController
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import command_pb2, query_pb2
from stigmer_sessions.agent_instance import SERVICES
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceId,
    ApiResourceKind,
    ApiResourceReference,
    GetAgentInstancesByAgentRequest,
    ListAgentInstanceChangesRequest,
    WatchAgentInstanceChangesRequest,
)
from tests.conftest import Stubs, make_agent_instance, make_session
from tests.stigmer_sessions.controller.test_agent_instances import guard_deletes

COMMAND, QUERY, CHANGES = (s.full_name for s in SERVICES)


def _code(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.RpcError) as err:
        call()
    code: grpc.StatusCode = err.value.code()
    return code


# --- our stubs ----------------------------------------------------------------------------


def test_writes_and_reads(stubs: Stubs) -> None:
    created = stubs.agent_command.create(make_agent_instance("bot"), metadata=(("x-actor-id", "alice"),))
    assert created.metadata.id.startswith("ain-")
    assert created.status.audit.spec_audit.created_by.id == "alice"
    assert stubs.agent_query.get(AgentInstanceId(value=created.metadata.id)) == created
    assert stubs.agent_query.getByReference(ApiResourceReference(org="acme", slug="bot")) == created
    change = AgentInstance()
    change.CopyFrom(created)
    change.spec.description = "d"
    updated = stubs.agent_command.update(change)
    assert updated.metadata.version.previous_version_id == created.metadata.version.id
    applied = stubs.agent_command.apply(make_agent_instance("bot", description="applied"))
    assert (applied.metadata.id, applied.spec.description) == (created.metadata.id, "applied")
    page = stubs.agent_query.getByAgent(GetAgentInstancesByAgentRequest(agent_id="agt-1"))
    assert ([i.metadata.id for i in page.items], page.total_count) == ([created.metadata.id], 1)
    assert stubs.agent_command.delete(AgentInstanceId(value=created.metadata.id)) == applied
    assert _code(lambda: stubs.agent_query.get(AgentInstanceId(value=created.metadata.id))) == (
        grpc.StatusCode.NOT_FOUND
    )


def test_headers_dry_run_request_id_and_if_match(stubs: Stubs) -> None:
    dry = stubs.agent_command.create(make_agent_instance("dry"), metadata=(("x-dry-run", "true"),))
    assert (
        _code(lambda: stubs.agent_query.get(AgentInstanceId(value=dry.metadata.id)))
        == grpc.StatusCode.NOT_FOUND
    )
    first = stubs.agent_command.create(make_agent_instance("once"), metadata=(("x-request-id", "r1"),))
    assert (
        stubs.agent_command.create(make_agent_instance("once"), metadata=(("x-request-id", "r1"),)) == first
    )
    stale = (("x-if-match", "not-the-version"),)
    assert _code(
        lambda: stubs.agent_command.delete(AgentInstanceId(value=first.metadata.id), metadata=stale)
    ) == (grpc.StatusCode.ABORTED)


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda s: s.agent_command.create(make_agent_instance("dup")), grpc.StatusCode.ALREADY_EXISTS),
        (lambda s: s.agent_command.create(AgentInstance()), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda s: s.agent_query.get(AgentInstanceId()), grpc.StatusCode.INVALID_ARGUMENT),
        (lambda s: s.agent_query.get(AgentInstanceId(value="ain-missing")), grpc.StatusCode.NOT_FOUND),
        (
            lambda s: s.agent_query.getByReference(
                ApiResourceReference(org="acme", slug="dup", kind=ApiResourceKind.session)
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda s: s.agent_query.getByAgent(GetAgentInstancesByAgentRequest()),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
        (
            lambda s: s.agent_query.getByAgent(
                GetAgentInstancesByAgentRequest(agent_id="agt-1", page_token="bogus")
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
        ),
    ],
)
def test_error_codes(stubs: Stubs, call: Any, code: grpc.StatusCode) -> None:
    stubs.agent_command.create(make_agent_instance("dup"))
    assert _code(lambda: call(stubs)) == code


def test_change_feed(stubs: Stubs) -> None:
    created = stubs.agent_command.create(make_agent_instance("bot"))
    stubs.command.create(make_session())
    stubs.agent_command.delete(AgentInstanceId(value=created.metadata.id))
    page = stubs.agent_changes.listChanges(ListAgentInstanceChangesRequest())
    assert [(c.type, c.resource_kind) for c in page.changes] == [
        ("AgentInstanceCreated", "agent_instance"),
        ("AgentInstanceDeleted", "agent_instance"),
    ]
    stream = stubs.agent_changes.watch(WatchAgentInstanceChangesRequest(after_revision=0))
    seen = [next(r.change for r in stream if r.HasField("change")) for _ in range(2)]
    stream.cancel()
    assert [c.revision for c in seen] == [c.revision for c in page.changes]


def test_health_and_reflection_list_the_three_services(stubs: Stubs) -> None:
    assert (COMMAND, QUERY, CHANGES) == (
        "ai.stigmer.agentic.agentinstance.v1.AgentInstanceCommandController",
        "ai.stigmer.agentic.agentinstance.v1.AgentInstanceQueryController",
        "ai.stigmer.agentic.agentinstance.v1.AgentInstanceChangeController",
    )
    health = health_pb2_grpc.HealthStub(stubs.channel)
    for service in (COMMAND, QUERY, CHANGES):
        reply = health.Check(health_pb2.HealthCheckRequest(service=service))
        assert reply.status == health_pb2.HealthCheckResponse.SERVING
    reflect = reflection_pb2_grpc.ServerReflectionStub(stubs.channel)
    request = reflection_pb2.ServerReflectionRequest(list_services="")
    names = {
        s.name
        for s in next(iter(reflect.ServerReflectionInfo(iter([request])))).list_services_response.service
    }
    assert {COMMAND, QUERY, CHANGES} <= names
    symbol = reflection_pb2.ServerReflectionRequest(file_containing_symbol=QUERY)
    reply = next(iter(reflect.ServerReflectionInfo(iter([symbol]))))
    assert reply.file_descriptor_response.file_descriptor_proto  # a client can learn the API


# --- a client that knows only Stigmer's protos --------------------------------------------

#: What is ours in the files a Stigmer client would have: the extension service and its
#: messages live in change.proto, which no Stigmer file imports, so it is never copied.
OUR_FILES = ("buf/validate/validate.proto", "google/protobuf/descriptor.proto")
FIRST_EXTENSION_FIELD = 100


def _strip_rules(options: Message) -> None:
    for field, _ in options.ListFields():
        if field.is_extension and field.full_name.startswith("buf.validate."):
            options.ClearExtension(field)  # type: ignore[arg-type]


def _strip_message(message: descriptor_pb2.DescriptorProto) -> None:
    kept = [f for f in message.field if f.number < FIRST_EXTENSION_FIELD]
    del message.field[:]
    message.field.extend(kept)
    for field in message.field:
        _strip_rules(field.options)
        if not field.options.ListFields():
            field.ClearField("options")
    _strip_rules(message.options)
    for oneof in message.oneof_decl:
        _strip_rules(oneof.options)
    for nested in message.nested_type:
        _strip_message(nested)


def _stigmer_files(*roots: FileDescriptor) -> list[descriptor_pb2.FileDescriptorProto]:
    """Our generated files that a Stigmer client has (dependencies first), stripped of every
    extension field (numbered from 100), every extension service, and every buf.validate rule."""
    ordered: list[FileDescriptor] = []

    def visit(file: FileDescriptor) -> None:
        if file in ordered or file.name in OUR_FILES:
            return
        for dependency in file.dependencies:
            visit(dependency)
        ordered.append(file)

    for root in roots:
        visit(root)
    stripped = []
    for file in ordered:
        proto = descriptor_pb2.FileDescriptorProto()
        file.CopyToProto(proto)
        kept = [d for d in proto.dependency if d not in OUR_FILES]
        del proto.dependency[:]
        proto.dependency.extend(kept)
        for message in proto.message_type:
            _strip_message(message)
        services = [s for s in proto.service if not s.name.endswith("ChangeController")]
        del proto.service[:]
        proto.service.extend(services)
        stripped.append(proto)
    return stripped


class StigmerClient:
    """Messages from a fresh pool of the stripped files, called over a raw channel."""

    def __init__(self, channel: grpc.Channel) -> None:
        self.channel = channel
        self.pool = descriptor_pool.DescriptorPool()
        for proto in _stigmer_files(command_pb2.DESCRIPTOR, query_pb2.DESCRIPTOR):
            self.pool.Add(proto)

    def type(self, name: str) -> type[Message]:
        return message_factory.GetMessageClass(self.pool.FindMessageTypeByName(name))

    def message(self, name: str, **fields: Any) -> Any:
        return self.type(f"ai.stigmer.agentic.agentinstance.v1.{name}")(**fields)

    def call(self, service: str, method: str, request: Message) -> Any:
        descriptor = self.pool.FindServiceByName(service).methods_by_name[method]
        rpc: grpc.UnaryUnaryMultiCallable[Message, Any] = self.channel.unary_unary(
            f"/{service}/{method}",
            request_serializer=lambda m: m.SerializeToString(),
            response_deserializer=self.type(descriptor.output_type.full_name).FromString,
        )
        return rpc(request)

    def command(self, method: str, request: Message) -> Any:
        return self.call(COMMAND, method, request)

    def query(self, method: str, request: Message) -> Any:
        return self.call(QUERY, method, request)


@pytest.fixture
def stigmer(stubs: Stubs) -> Iterator[StigmerClient]:
    yield StigmerClient(stubs.channel)


def test_the_stripped_pool_has_only_stigmers_api(stigmer: StigmerClient) -> None:
    """The client really lacks our extensions (else the next test would prove nothing)."""
    request = stigmer.message("GetAgentInstancesByAgentRequest")
    assert [f.name for f in request.DESCRIPTOR.fields] == ["agent_id", "page_info"]
    assert [f.name for f in stigmer.message("AgentInstanceList").DESCRIPTOR.fields] == [
        "total_count",
        "items",
    ]
    with pytest.raises(KeyError):
        stigmer.pool.FindServiceByName(CHANGES)
    with pytest.raises(KeyError):
        stigmer.pool.FindFileByName("buf/validate/validate.proto")
    spec = stigmer.message("AgentInstanceSpec").DESCRIPTOR
    assert not spec.fields_by_name["agent_id"].GetOptions().ListFields()
    assert set(stigmer.pool.FindServiceByName(COMMAND).methods_by_name) == {
        "apply",
        "create",
        "update",
        "delete",
    }
    assert set(stigmer.pool.FindServiceByName(QUERY).methods_by_name) == {
        "get",
        "getByAgent",
        "getByReference",
    }


def _instance(stigmer: StigmerClient, name: str, org: str = "acme", agent: str = "agt-1", **spec: Any) -> Any:
    metadata = stigmer.type("ai.stigmer.commons.apiresource.ApiResourceMetadata")(
        name=name, org=org, owner_scope=2
    )
    return stigmer.message(
        "AgentInstance", metadata=metadata, spec=stigmer.message("AgentInstanceSpec", agent_id=agent, **spec)
    )


def test_a_stigmer_client_works_unchanged(stigmer: StigmerClient) -> None:
    reference = stigmer.type("ai.stigmer.commons.apiresource.ApiResourceReference")
    environment = reference(org="acme", slug="prod", kind=53)
    created = stigmer.command("create", _instance(stigmer, "Support Bot", environment_refs=[environment]))
    assert created.DESCRIPTOR.full_name == "ai.stigmer.agentic.agentinstance.v1.AgentInstance"
    assert created.metadata.id.startswith("ain-")
    assert (created.metadata.slug, created.kind, created.api_version) == (
        "support-bot",
        "AgentInstance",
        "agentic.stigmer.ai/v1",
    )
    assert [r.kind for r in created.spec.environment_refs] == [53]
    instance_id = stigmer.message("AgentInstanceId", value=created.metadata.id)
    assert stigmer.query("get", instance_id) == created
    assert stigmer.query("getByReference", reference(org="acme", slug="support-bot", kind=45)) == created
    assert stigmer.query("getByReference", reference(org="acme", slug="support-bot")) == created

    created.spec.description = "updated by a Stigmer client"
    updated = stigmer.command("update", created)
    assert updated.spec.description == "updated by a Stigmer client"
    assert updated.metadata.version.previous_version_id == created.metadata.version.id
    applied = stigmer.command("apply", _instance(stigmer, "Support Bot", description="applied"))
    assert (applied.metadata.id, applied.spec.description) == (created.metadata.id, "applied")

    deleted = stigmer.command("delete", instance_id)
    assert deleted == applied
    with pytest.raises(grpc.RpcError) as err:
        stigmer.query("get", instance_id)
    assert err.value.code() == grpc.StatusCode.NOT_FOUND


def test_a_stigmer_client_pages_with_page_info(stigmer: StigmerClient) -> None:
    ids = [stigmer.command("create", _instance(stigmer, f"bot {i}")).metadata.id for i in range(5)][::-1]
    stigmer.command("create", _instance(stigmer, "other", agent="agt-2"))
    page_info = stigmer.type("ai.stigmer.commons.rpc.PageInfo")

    def page(num: int, size: int) -> tuple[list[str], int]:
        request = stigmer.message(
            "GetAgentInstancesByAgentRequest", agent_id="agt-1", page_info=page_info(num=num, size=size)
        )
        response = stigmer.query("getByAgent", request)
        assert response.DESCRIPTOR.full_name == "ai.stigmer.agentic.agentinstance.v1.AgentInstanceList"
        return [i.metadata.id for i in response.items], response.total_count

    assert page(1, 2) == (ids[0:2], 5)
    assert page(2, 2) == (ids[2:4], 5)
    assert page(3, 2) == (ids[4:], 5)
    assert page(4, 2) == ([], 5)
    assert page(0, 0) == (ids, 5)
    no_paging = stigmer.query(
        "getByAgent", stigmer.message("GetAgentInstancesByAgentRequest", agent_id="agt-1")
    )
    assert no_paging.total_count == 5


def test_stigmers_errors_reach_a_stigmer_client(stigmer: StigmerClient) -> None:
    stigmer.command("create", _instance(stigmer, "bot"))
    with pytest.raises(grpc.RpcError) as err:
        stigmer.command("create", _instance(stigmer, "bot"))
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(grpc.RpcError) as err:
        stigmer.command("create", _instance(stigmer, "no agent", agent=""))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    reference = stigmer.type("ai.stigmer.commons.apiresource.ApiResourceReference")
    bad_environment = reference(org="acme", slug="x", kind=52)  # upstream's rule would let it pass
    with pytest.raises(grpc.RpcError) as err:
        stigmer.command("create", _instance(stigmer, "wrong env", environment_refs=[bad_environment]))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT


def test_the_cascade_header_reaches_on_delete(stubs: Stubs, controller: SessionController) -> None:
    instance_id = AgentInstanceId(value=guard_deletes(controller))
    assert _code(lambda: stubs.agent_command.delete(instance_id)) == grpc.StatusCode.FAILED_PRECONDITION
    deleted = stubs.agent_command.delete(instance_id, metadata=(("x-cascade", "true"),))
    assert deleted.metadata.id == instance_id.value
