import datetime

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import api_pb2 as _api_pb2
from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import message_pb2 as _message_pb2
from stigmer_sessions._gen.buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionChange(_message.Message):
    __slots__ = ("revision", "type", "id", "resource_kind", "resource_id", "org", "actor_id", "request_id", "caused_by", "time", "session", "reason", "impersonated_by", "messages", "removed")
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
    SESSION_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    IMPERSONATED_BY_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    REMOVED_FIELD_NUMBER: _ClassVar[int]
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
    session: _api_pb2.Session
    reason: str
    impersonated_by: str
    messages: _containers.RepeatedCompositeFieldContainer[_message_pb2.SessionMessage]
    removed: SessionMessagesRemoval
    def __init__(self, revision: _Optional[int] = ..., type: _Optional[str] = ..., id: _Optional[str] = ..., resource_kind: _Optional[str] = ..., resource_id: _Optional[str] = ..., org: _Optional[str] = ..., actor_id: _Optional[str] = ..., request_id: _Optional[str] = ..., caused_by: _Optional[str] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., session: _Optional[_Union[_api_pb2.Session, _Mapping]] = ..., reason: _Optional[str] = ..., impersonated_by: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[_message_pb2.SessionMessage, _Mapping]]] = ..., removed: _Optional[_Union[SessionMessagesRemoval, _Mapping]] = ...) -> None: ...

class SessionMessagesRemoval(_message.Message):
    __slots__ = ("after_sequence", "last_sequence", "count", "message_ids")
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_IDS_FIELD_NUMBER: _ClassVar[int]
    after_sequence: int
    last_sequence: int
    count: int
    message_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, after_sequence: _Optional[int] = ..., last_sequence: _Optional[int] = ..., count: _Optional[int] = ..., message_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class ListSessionChangesRequest(_message.Message):
    __slots__ = ("session_id", "org", "after_revision", "page_size", "page_token", "types")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    org: str
    after_revision: int
    page_size: int
    page_token: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, session_id: _Optional[str] = ..., org: _Optional[str] = ..., after_revision: _Optional[int] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class SessionChangeList(_message.Message):
    __slots__ = ("changes", "next_page_token", "current_revision", "oldest_revision")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CURRENT_REVISION_FIELD_NUMBER: _ClassVar[int]
    OLDEST_REVISION_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[SessionChange]
    next_page_token: str
    current_revision: int
    oldest_revision: int
    def __init__(self, changes: _Optional[_Iterable[_Union[SessionChange, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., current_revision: _Optional[int] = ..., oldest_revision: _Optional[int] = ...) -> None: ...

class WatchSessionChangesRequest(_message.Message):
    __slots__ = ("after_revision", "from_now", "session_id", "org", "types")
    AFTER_REVISION_FIELD_NUMBER: _ClassVar[int]
    FROM_NOW_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    TYPES_FIELD_NUMBER: _ClassVar[int]
    after_revision: int
    from_now: bool
    session_id: str
    org: str
    types: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, after_revision: _Optional[int] = ..., from_now: _Optional[bool] = ..., session_id: _Optional[str] = ..., org: _Optional[str] = ..., types: _Optional[_Iterable[str]] = ...) -> None: ...

class WatchSessionChangesResponse(_message.Message):
    __slots__ = ("change", "bookmark")
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    BOOKMARK_FIELD_NUMBER: _ClassVar[int]
    change: SessionChange
    bookmark: SessionChangeBookmark
    def __init__(self, change: _Optional[_Union[SessionChange, _Mapping]] = ..., bookmark: _Optional[_Union[SessionChangeBookmark, _Mapping]] = ...) -> None: ...

class SessionChangeBookmark(_message.Message):
    __slots__ = ("revision", "time")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TIME_FIELD_NUMBER: _ClassVar[int]
    revision: int
    time: _timestamp_pb2.Timestamp
    def __init__(self, revision: _Optional[int] = ..., time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
