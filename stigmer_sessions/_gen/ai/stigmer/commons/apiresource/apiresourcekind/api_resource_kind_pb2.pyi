from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from typing import ClassVar as _ClassVar

DESCRIPTOR: _descriptor.FileDescriptor

class ApiResourceKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    api_resource_kind_unspecified: _ClassVar[ApiResourceKind]
    agent: _ClassVar[ApiResourceKind]
    session: _ClassVar[ApiResourceKind]
    agent_instance: _ClassVar[ApiResourceKind]
    workflow_execution: _ClassVar[ApiResourceKind]
    environment: _ClassVar[ApiResourceKind]
api_resource_kind_unspecified: ApiResourceKind
agent: ApiResourceKind
session: ApiResourceKind
agent_instance: ApiResourceKind
workflow_execution: ApiResourceKind
environment: ApiResourceKind
