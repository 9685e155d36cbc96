import datetime

from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import api_pb2 as _api_pb2
from stigmer_sessions._gen.buf.validate import validate_pb2 as _validate_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionMessageRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    role_unspecified: _ClassVar[SessionMessageRole]
    role_user: _ClassVar[SessionMessageRole]
    role_assistant: _ClassVar[SessionMessageRole]
    role_system: _ClassVar[SessionMessageRole]
    role_tool: _ClassVar[SessionMessageRole]
role_unspecified: SessionMessageRole
role_user: SessionMessageRole
role_assistant: SessionMessageRole
role_system: SessionMessageRole
role_tool: SessionMessageRole

class SessionMessage(_message.Message):
    __slots__ = ("id", "session_id", "sequence", "role", "content", "metadata", "created_at", "actor_id", "payload", "media_type")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ID_FIELD_NUMBER: _ClassVar[int]
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    ACTOR_ID_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    id: str
    session_id: str
    sequence: int
    role: SessionMessageRole
    content: str
    metadata: _containers.ScalarMap[str, str]
    created_at: _timestamp_pb2.Timestamp
    actor_id: str
    payload: bytes
    media_type: str
    def __init__(self, id: _Optional[str] = ..., session_id: _Optional[str] = ..., sequence: _Optional[int] = ..., role: _Optional[_Union[SessionMessageRole, str]] = ..., content: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., actor_id: _Optional[str] = ..., payload: _Optional[bytes] = ..., media_type: _Optional[str] = ...) -> None: ...

class AppendSessionMessageRequest(_message.Message):
    __slots__ = ("session_id", "role", "content", "metadata", "payload", "media_type", "expected_version")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    role: SessionMessageRole
    content: str
    metadata: _containers.ScalarMap[str, str]
    payload: bytes
    media_type: str
    expected_version: str
    def __init__(self, session_id: _Optional[str] = ..., role: _Optional[_Union[SessionMessageRole, str]] = ..., content: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., payload: _Optional[bytes] = ..., media_type: _Optional[str] = ..., expected_version: _Optional[str] = ...) -> None: ...

class SessionMessageInput(_message.Message):
    __slots__ = ("role", "content", "metadata", "payload", "media_type")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ROLE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    PAYLOAD_FIELD_NUMBER: _ClassVar[int]
    MEDIA_TYPE_FIELD_NUMBER: _ClassVar[int]
    role: SessionMessageRole
    content: str
    metadata: _containers.ScalarMap[str, str]
    payload: bytes
    media_type: str
    def __init__(self, role: _Optional[_Union[SessionMessageRole, str]] = ..., content: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., payload: _Optional[bytes] = ..., media_type: _Optional[str] = ...) -> None: ...

class AppendSessionMessagesRequest(_message.Message):
    __slots__ = ("session_id", "messages", "expected_version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    messages: _containers.RepeatedCompositeFieldContainer[SessionMessageInput]
    expected_version: str
    def __init__(self, session_id: _Optional[str] = ..., messages: _Optional[_Iterable[_Union[SessionMessageInput, _Mapping]]] = ..., expected_version: _Optional[str] = ...) -> None: ...

class ListSessionMessagesRequest(_message.Message):
    __slots__ = ("session_id", "after_sequence", "page_size", "newest_first", "page_token", "created_after")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    NEWEST_FIRST_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    CREATED_AFTER_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    after_sequence: int
    page_size: int
    newest_first: bool
    page_token: str
    created_after: _timestamp_pb2.Timestamp
    def __init__(self, session_id: _Optional[str] = ..., after_sequence: _Optional[int] = ..., page_size: _Optional[int] = ..., newest_first: _Optional[bool] = ..., page_token: _Optional[str] = ..., created_after: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SessionMessageList(_message.Message):
    __slots__ = ("messages", "next_page_token", "total_size")
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    messages: _containers.RepeatedCompositeFieldContainer[SessionMessage]
    next_page_token: str
    total_size: int
    def __init__(self, messages: _Optional[_Iterable[_Union[SessionMessage, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class ResumeSessionRequest(_message.Message):
    __slots__ = ("session_id", "page_size")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    page_size: int
    def __init__(self, session_id: _Optional[str] = ..., page_size: _Optional[int] = ...) -> None: ...

class ResumeSessionResponse(_message.Message):
    __slots__ = ("session", "messages", "earlier_page_token")
    SESSION_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    EARLIER_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    session: _api_pb2.Session
    messages: _containers.RepeatedCompositeFieldContainer[SessionMessage]
    earlier_page_token: str
    def __init__(self, session: _Optional[_Union[_api_pb2.Session, _Mapping]] = ..., messages: _Optional[_Iterable[_Union[SessionMessage, _Mapping]]] = ..., earlier_page_token: _Optional[str] = ...) -> None: ...

class PopSessionMessagesRequest(_message.Message):
    __slots__ = ("session_id", "count", "expected_version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    count: int
    expected_version: str
    def __init__(self, session_id: _Optional[str] = ..., count: _Optional[int] = ..., expected_version: _Optional[str] = ...) -> None: ...

class ClearSessionMessagesRequest(_message.Message):
    __slots__ = ("session_id", "expected_version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    expected_version: str
    def __init__(self, session_id: _Optional[str] = ..., expected_version: _Optional[str] = ...) -> None: ...
