"""AgentInstanceController: the in-process API of agent instances, the same operations as
their gRPC services (``SessionController.agent_instances``).

A thin typed façade over :meth:`pipeline.service.Resources.run`: each method runs one
pipeline in one store transaction and returns the resulting message or raises a typed
:class:`pipeline.errors.ResourceError`, exactly as the RPC of the same name does.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any, TypeVar

from google.protobuf.message import Message

from pipeline import watch
from pipeline.keys import RESPONSE
from pipeline.service import Resources
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceChangeList,
    AgentInstanceId,
    AgentInstanceList,
    ApiResourceReference,
    GetAgentInstancesByAgentRequest,
    ListAgentInstanceChangesRequest,
    WatchAgentInstanceChangesRequest,
    WatchAgentInstanceChangesResponse,
)
from stigmer_sessions.resource import AGENT_INSTANCE

R = TypeVar("R", bound=Message)


class AgentInstanceController:
    """Agent instance operations on the store of the :class:`Resources` given (thread-safe)."""

    def __init__(self, resources: Resources) -> None:
        self.resources = resources

    def _run(self, operation: str, request: Message, response_type: type[R], **options: Any) -> R:
        response = self.resources.run(AGENT_INSTANCE.name, operation, request, **options)[RESPONSE]
        if not isinstance(response, response_type):  # a pipeline wiring bug, never user input
            raise TypeError(f"expected {response_type.__name__}, got {type(response).__name__}")
        return response

    def create(
        self, instance: AgentInstance, *, actor: str = "", request_id: str = "", dry_run: bool = False
    ) -> AgentInstance:
        """Create; ALREADY_EXISTS if (org, slug) is taken, INVALID_ARGUMENT for bad input."""
        return self._run(
            "create", instance, AgentInstance, actor=actor, request_id=request_id, dry_run=dry_run
        )

    def update(
        self,
        instance: AgentInstance,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
    ) -> AgentInstance:
        """Replace spec and metadata of instance ``metadata.id``; conditional on
        ``expected_version`` (else the request's ``metadata.version.id``): ABORTED if stale."""
        return self._run(
            "update",
            instance,
            AgentInstance,
            actor=actor,
            request_id=request_id,
            expected_version=expected_version,
            dry_run=dry_run,
        )

    def apply(
        self,
        instance: AgentInstance,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
    ) -> AgentInstance:
        """Create or update, by id if given, else by (org, slug from name)."""
        return self._run(
            "apply",
            instance,
            AgentInstance,
            actor=actor,
            request_id=request_id,
            expected_version=expected_version,
            dry_run=dry_run,
        )

    def delete(
        self,
        instance_id: str | AgentInstanceId,
        *,
        actor: str = "",
        request_id: str = "",
        expected_version: str = "",
        dry_run: bool = False,
        cascade: bool = False,
    ) -> AgentInstance:
        """Delete and return the deleted instance; ``cascade`` lets the delete take what
        depends on it along, where the server is configured to guard it."""
        return self._run(
            "delete",
            _instance_id(instance_id),
            AgentInstance,
            actor=actor,
            request_id=request_id,
            expected_version=expected_version,
            dry_run=dry_run,
            cascade=cascade,
        )

    def get(self, instance_id: str | AgentInstanceId) -> AgentInstance:
        return self._run("get", _instance_id(instance_id), AgentInstance)

    def get_by_reference(
        self, reference: ApiResourceReference | None = None, *, org: str = "", slug: str = ""
    ) -> AgentInstance:
        """By an ``ApiResourceReference`` (kind agent_instance or unspecified), or ``org=``, ``slug=``."""
        ref = reference if reference is not None else ApiResourceReference(org=org, slug=slug)
        return self._run("getByReference", ref, AgentInstance)

    def get_by_agent(
        self, request: GetAgentInstancesByAgentRequest | None = None, **fields: Any
    ) -> AgentInstanceList:
        """One page of the instances of ``agent_id``: ``get_by_agent(agent_id="agt-1",
        page_info=PageInfo(num=2, size=20))``, or ``page_token=``; ``org=`` narrows."""
        return self._run(
            "getByAgent", request or GetAgentInstancesByAgentRequest(**fields), AgentInstanceList
        )

    def list_changes(
        self, request: ListAgentInstanceChangesRequest | None = None, **fields: Any
    ) -> AgentInstanceChangeList:
        """One page of the agent instances' change feed, oldest first."""
        request = request or ListAgentInstanceChangesRequest(**fields)
        return self._run("listChanges", request, AgentInstanceChangeList)

    def watch(
        self,
        request: WatchAgentInstanceChangesRequest | None = None,
        *,
        stop: threading.Event | None = None,
        bookmark_interval_s: float | None = None,
        max_lag: int = watch.DEFAULT_MAX_LAG,
        **fields: Any,
    ) -> Iterator[WatchAgentInstanceChangesResponse]:
        """Follow the agent instances' change feed (see :meth:`Resources.watch`)."""
        request = request or WatchAgentInstanceChangesRequest(**fields)
        for response in self.resources.watch(
            AGENT_INSTANCE.name, request, stop=stop, bookmark_interval_s=bookmark_interval_s, max_lag=max_lag
        ):
            if not isinstance(response, WatchAgentInstanceChangesResponse):
                raise TypeError(f"expected WatchAgentInstanceChangesResponse, got {type(response).__name__}")
            yield response


def _instance_id(value: str | AgentInstanceId) -> AgentInstanceId:
    return value if isinstance(value, AgentInstanceId) else AgentInstanceId(value=value)
