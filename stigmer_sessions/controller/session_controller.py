"""SessionController: the in-process API, the same operations as the gRPC services.

Every method runs one pipeline in one store transaction and returns the resulting message
or raises a typed :class:`pipeline.errors.ResourceError`. Pipelines and the validator are
built once per controller; the controller is thread-safe (LMDB serialises writers and reads
run concurrently).
"""

from __future__ import annotations

import os
from typing import Any, TypeVar

import protovalidate
from google.protobuf.message import Message

from pipeline.context import RequestContext
from pipeline.keys import RESPONSE
from pipeline.pipeline import Pipeline
from pipeline.store import LmdbStore, Store
from pipeline.validation import shared_validator, warm_up
from stigmer_sessions.api import (
    ApiResourceReference,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    Session,
    SessionId,
    SessionList,
)
from stigmer_sessions.controller import (
    apply,
    create,
    delete,
    get,
    get_by_reference,
    list_by_agent,
    update,
)
from stigmer_sessions.controller import list as list_
from stigmer_sessions.resource import SESSION

R = TypeVar("R", bound=Message)


class SessionController:
    """Session operations on a store.

    ``SessionController("./data")`` opens (and owns) an LMDB store in that directory;
    ``SessionController(store=...)`` uses a store you manage. Use it as a context manager,
    or call :meth:`close`, to release an owned store.
    """

    def __init__(
        self,
        data_dir: str | os.PathLike[str] = "./data",
        *,
        store: Store | None = None,
        durable: bool = True,
        validator: protovalidate.Validator | None = None,
    ) -> None:
        self._owns_store = store is None
        self.store: Store = store if store is not None else LmdbStore(data_dir, durable=durable)
        v = validator or shared_validator()
        self.pipelines: dict[str, Pipeline[Any]] = {
            "create": create.build(v),
            "update": update.build(v),
            "apply": apply.build(v),
            "delete": delete.build(v),
            "get": get.build(v),
            "getByReference": get_by_reference.build(v),
            "list": list_.build(v),
            "listByAgent": list_by_agent.build(v),
        }
        # Compile every request type's rules now rather than on the first request.
        warm_up(
            [
                Session(),
                SessionId(),
                ApiResourceReference(),
                ListSessionsRequest(),
                ListSessionsByAgentRequest(),
            ],
            v,
        )

    def run(self, operation: str, request: Message, *, actor: str = "") -> RequestContext[Any]:
        """Run one operation's pipeline and return its context (response, step timings)."""
        return self.pipelines[operation].execute(self.store, request, kind=SESSION, actor=actor)

    def _call(self, operation: str, request: Message, actor: str, response_type: type[R]) -> R:
        response = self.run(operation, request, actor=actor)[RESPONSE]
        assert isinstance(response, response_type)
        return response

    def create(self, session: Session, *, actor: str = "") -> Session:
        """Create; ALREADY_EXISTS if (org, slug) is taken, INVALID_ARGUMENT for bad input."""
        return self._call("create", session, actor, Session)

    def update(self, session: Session, *, actor: str = "") -> Session:
        """Replace spec, name, labels, annotations and tags of session ``metadata.id``."""
        return self._call("update", session, actor, Session)

    def apply(self, session: Session, *, actor: str = "") -> Session:
        """Create or update, by id if given, else by (org, slug from name)."""
        return self._call("apply", session, actor, Session)

    def delete(self, session_id: str | SessionId, *, actor: str = "") -> Session:
        """Delete and return the deleted session."""
        return self._call("delete", _session_id(session_id), actor, Session)

    def get(self, session_id: str | SessionId) -> Session:
        return self._call("get", _session_id(session_id), "", Session)

    def get_by_reference(
        self, reference: ApiResourceReference | None = None, *, org: str = "", slug: str = ""
    ) -> Session:
        """By an ``ApiResourceReference``, or by ``org=`` and ``slug=``."""
        ref = reference if reference is not None else ApiResourceReference(org=org, slug=slug)
        return self._call("getByReference", ref, "", Session)

    def list(self, request: ListSessionsRequest | None = None, **fields: Any) -> SessionList:
        """One page, newest first: ``list(org="acme", tags=["x"], page_size=20, page_token=...)``."""
        return self._call("list", request or ListSessionsRequest(**fields), "", SessionList)

    def list_by_agent(self, request: ListSessionsByAgentRequest | None = None, **fields: Any) -> SessionList:
        """One page of the sessions whose ``spec.agent_instance_id`` is ``agent_id``."""
        return self._call("listByAgent", request or ListSessionsByAgentRequest(**fields), "", SessionList)

    def close(self) -> None:
        """Close the store if this controller opened it."""
        if self._owns_store:
            self.store.close()

    def __enter__(self) -> SessionController:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _session_id(value: str | SessionId) -> SessionId:
    return value if isinstance(value, SessionId) else SessionId(value=value)
