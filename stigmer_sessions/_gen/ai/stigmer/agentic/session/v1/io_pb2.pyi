from stigmer_sessions._gen.ai.stigmer.agentic.session.v1 import api_pb2 as _api_pb2
from stigmer_sessions._gen.ai.stigmer.commons.apiresource import enum_pb2 as _enum_pb2
from stigmer_sessions._gen.buf.validate import validate_pb2 as _validate_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SessionId(_message.Message):
    __slots__ = ("value",)
    VALUE_FIELD_NUMBER: _ClassVar[int]
    value: str
    def __init__(self, value: _Optional[str] = ...) -> None: ...

class SessionList(_message.Message):
    __slots__ = ("total_pages", "entries", "next_page_token", "total_size")
    TOTAL_PAGES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SIZE_FIELD_NUMBER: _ClassVar[int]
    total_pages: int
    entries: _containers.RepeatedCompositeFieldContainer[_api_pb2.Session]
    next_page_token: str
    total_size: int
    def __init__(self, total_pages: _Optional[int] = ..., entries: _Optional[_Iterable[_Union[_api_pb2.Session, _Mapping]]] = ..., next_page_token: _Optional[str] = ..., total_size: _Optional[int] = ...) -> None: ...

class ListSessionsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "tags", "org", "label_selector", "owner_scope", "order_by")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    OWNER_SCOPE_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    org: str
    label_selector: str
    owner_scope: _enum_pb2.ApiResourceOwnerScope
    order_by: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., org: _Optional[str] = ..., label_selector: _Optional[str] = ..., owner_scope: _Optional[_Union[_enum_pb2.ApiResourceOwnerScope, str]] = ..., order_by: _Optional[str] = ...) -> None: ...

class TransitionSessionRequest(_message.Message):
    __slots__ = ("session_id", "phase", "reason", "expected_version")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    PHASE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_VERSION_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    phase: str
    reason: str
    expected_version: str
    def __init__(self, session_id: _Optional[str] = ..., phase: _Optional[str] = ..., reason: _Optional[str] = ..., expected_version: _Optional[str] = ...) -> None: ...

class ListSessionsByAgentRequest(_message.Message):
    __slots__ = ("agent_id", "page_size", "page_token", "org", "tags", "label_selector", "owner_scope", "order_by")
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ORG_FIELD_NUMBER: _ClassVar[int]
    TAGS_FIELD_NUMBER: _ClassVar[int]
    LABEL_SELECTOR_FIELD_NUMBER: _ClassVar[int]
    OWNER_SCOPE_FIELD_NUMBER: _ClassVar[int]
    ORDER_BY_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    page_size: int
    page_token: str
    org: str
    tags: _containers.RepeatedScalarFieldContainer[str]
    label_selector: str
    owner_scope: _enum_pb2.ApiResourceOwnerScope
    order_by: str
    def __init__(self, agent_id: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., org: _Optional[str] = ..., tags: _Optional[_Iterable[str]] = ..., label_selector: _Optional[str] = ..., owner_scope: _Optional[_Union[_enum_pb2.ApiResourceOwnerScope, str]] = ..., order_by: _Optional[str] = ...) -> None: ...
