"""The generated messages and gRPC stubs, under public names (``_gen`` is private: its layout
follows the .proto packages and may move).

Each module is the protoc output for one .proto file, prefixed with its package:
``session_command_pb2_grpc.SessionCommandControllerStub``, ``session_message_pb2.SessionMessage``,
``agent_instance_query_pb2_grpc.AgentInstanceQueryControllerStub``, ``apiresource_metadata_pb2``...
The common messages also have short names in :mod:`stigmer_sessions.api`. Importing this
module loads only protobuf and grpc (no store, no validator).
"""

from __future__ import annotations

from google.protobuf.descriptor import ServiceDescriptor

from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    api_pb2 as agent_instance_api_pb2,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    change_pb2 as agent_instance_change_pb2,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    change_pb2_grpc as agent_instance_change_pb2_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    command_pb2 as agent_instance_command_pb2,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    command_pb2_grpc as agent_instance_command_pb2_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import io_pb2 as agent_instance_io_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    query_pb2 as agent_instance_query_pb2,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    query_pb2_grpc as agent_instance_query_pb2_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import (
    spec_pb2 as agent_instance_spec_pb2,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import api_pb2 as session_api_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import change_pb2 as session_change_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    change_pb2_grpc as session_change_pb2_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import command_pb2 as session_command_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    command_pb2_grpc as session_command_pb2_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import io_pb2 as session_io_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import message_pb2 as session_message_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    message_pb2_grpc as session_message_pb2_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import query_pb2 as session_query_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import (
    query_pb2_grpc as session_query_pb2_grpc,
)
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import spec_pb2 as session_spec_pb2
from stigmer_sessions._gen.ai.stigmer.commons.apiresource import enum_pb2 as apiresource_enum_pb2
from stigmer_sessions._gen.ai.stigmer.commons.apiresource import io_pb2 as apiresource_io_pb2
from stigmer_sessions._gen.ai.stigmer.commons.apiresource import (
    metadata_pb2 as apiresource_metadata_pb2,
)
from stigmer_sessions._gen.ai.stigmer.commons.apiresource import status_pb2 as apiresource_status_pb2
from stigmer_sessions._gen.ai.stigmer.commons.apiresource.apiresourcekind import (
    api_resource_kind_pb2 as apiresource_kind_pb2,
)
from stigmer_sessions._gen.ai.stigmer.commons.rpc import pagination_pb2 as rpc_pagination_pb2

#: The gRPC services of sessions and of agent instances, with the modules of their stubs.
SESSION_SERVICES: tuple[tuple[ServiceDescriptor, object], ...] = (
    (session_command_pb2.DESCRIPTOR.services_by_name["SessionCommandController"], session_command_pb2_grpc),
    (session_query_pb2.DESCRIPTOR.services_by_name["SessionQueryController"], session_query_pb2_grpc),
    (session_message_pb2.DESCRIPTOR.services_by_name["SessionMessageController"], session_message_pb2_grpc),
    (session_change_pb2.DESCRIPTOR.services_by_name["SessionChangeController"], session_change_pb2_grpc),
)
AGENT_INSTANCE_SERVICES: tuple[tuple[ServiceDescriptor, object], ...] = (
    (
        agent_instance_command_pb2.DESCRIPTOR.services_by_name["AgentInstanceCommandController"],
        agent_instance_command_pb2_grpc,
    ),
    (
        agent_instance_query_pb2.DESCRIPTOR.services_by_name["AgentInstanceQueryController"],
        agent_instance_query_pb2_grpc,
    ),
    (
        agent_instance_change_pb2.DESCRIPTOR.services_by_name["AgentInstanceChangeController"],
        agent_instance_change_pb2_grpc,
    ),
)

__all__ = [
    "AGENT_INSTANCE_SERVICES",
    "SESSION_SERVICES",
    "agent_instance_api_pb2",
    "agent_instance_change_pb2",
    "agent_instance_change_pb2_grpc",
    "agent_instance_command_pb2",
    "agent_instance_command_pb2_grpc",
    "agent_instance_io_pb2",
    "agent_instance_query_pb2",
    "agent_instance_query_pb2_grpc",
    "agent_instance_spec_pb2",
    "apiresource_enum_pb2",
    "apiresource_io_pb2",
    "apiresource_kind_pb2",
    "apiresource_metadata_pb2",
    "apiresource_status_pb2",
    "rpc_pagination_pb2",
    "session_api_pb2",
    "session_change_pb2",
    "session_change_pb2_grpc",
    "session_command_pb2",
    "session_command_pb2_grpc",
    "session_io_pb2",
    "session_message_pb2",
    "session_message_pb2_grpc",
    "session_query_pb2",
    "session_query_pb2_grpc",
    "session_spec_pb2",
]
