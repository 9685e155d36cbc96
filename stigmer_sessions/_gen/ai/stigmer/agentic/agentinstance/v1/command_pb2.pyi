from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import api_pb2 as _api_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import io_pb2 as _io_pb2
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor
