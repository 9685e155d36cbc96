import datetime

from stigmer_sessions._gen.ai.stigmer.agentic.agentinstance.v1 import api_pb2 as _api_pb2
from stigmer_sessions._gen.buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentInstanceChange(_message.Message):
    __slots__ = ("revision", "type", "id", "resource_kind", "resource_id", "org", "actor_id", "request_id", "caused_by", "time", "agent_instance", "reason", "impersonated_by")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_KIND_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    CAUSED_BY_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATED_BY_FIELD_NUMBER: _ClassVar[int]
    revision: int
    type: str
    id: str
    resource_kind: str
    resource_id: str
    org: str
    actor_id: str
    request_id: str
    caused_by: str
    time: _timestamp_pb2.Timestamp
    agent_instance: _api_pb2.AgentInstance
    reason: str
    impersonated_by: str
    def __init__(self, revision: _Optional[int] = ..., type: _Optional[str] = ..., id: _Optional[str] = ..., resource_kind: _Optional[str] = ..., resource_id: _Optional[str] = ..., org: _Optional[str] = ..., actor_id: _Optional[str] = ..., request_id: _Optional[str] = ..., caused_by: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., agent_instance: _Optional[_Union[_api_pb2.AgentInstance, _Mapping]] = ..., reason: _Optional[str] = ..., impersonated_by: _Optional[str] = ...) -> None: ...

class ListAgentInstanceChangesRequest(_message.Message):
    __slots__ = ("agent_instance_id", "org", "after_revision", "page_size", "page_token", "types")
    AGENT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    agent_instance_id: str
    org: str
    after_revision: int
    page_size: int
    page_token: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, agent_instance_id: _Optional[str] = ..., org: _Optional[str] = ..., after_revision: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class AgentInstanceChangeList(_message.Message):
    __slots__ = ("changes", "next_page_token", "current_revision", "oldest_revision")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CURRENT_REVISION_FIELD_NUMBER: _ClassVar[int]
    OLDEST_REVISION_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[AgentInstanceChange]
    next_page_token: str
    current_revision: int
    oldest_revision: int
    def __init__(self, changes: _Optional[_Iterable[_Union[AgentInstanceChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., current_revision: _Optional[int] = ..., oldest_revision: _Optional[int] = ...) -> None: ...

class WatchAgentInstanceChangesRequest(_message.Message):
    __slots__ = ("after_revision", "from_now", "agent_instance_id", "org", "types")
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    FROM_NOW_FIELD_NUMBER: _ClassVar[int]
    AGENT_INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    after_revision: int
    from_now: bool
    agent_instance_id: str
    org: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, after_revision: _Optional[int] = ..., from_now: _Optional[bool] = ..., agent_instance_id: _Optional[str] = ..., org: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchAgentInstanceChangesResponse(_message.Message):
    __slots__ = ("change", "bookmark")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_FIELD_NUMBER: _ClassVar[int]
    change: AgentInstanceChange
    bookmark: AgentInstanceChangeBookmark
    def __init__(self, change: _Optional[_Union[AgentInstanceChange, _Mapping]] = ..., bookmark: _Optional[_Union[AgentInstanceChangeBookmark, _Mapping]] = ...) -> None: ...

class AgentInstanceChangeBookmark(_message.Message):
    __slots__ = ("revision", "time")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    revision: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, revision: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
