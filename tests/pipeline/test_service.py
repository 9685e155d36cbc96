"""KindService ties a kind's operations to its gRPC methods; Resources runs them."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from pipeline import operations as ops
from pipeline.errors import InvalidArgument
from pipeline.events import EventHub
from pipeline.grpc_adapter import CallOptions
from pipeline.keys import CASCADE, RESPONSE
from pipeline.operations import Rules, Settings, operation
from pipeline.service import KindService, Resources
from pipeline.steps import DeleteChildren, EnforceQuota, GenerateName
from pipeline.storage.lmdb import LmdbStorage
from pipeline.validation import shared_validator
from stigmer_sessions.api import SessionId, WatchSessionChangesResponse
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.resource import SESSION
from stigmer_sessions.session import SERVICES, session_service
from tests.conftest import make_session

S = Settings()


def test_an_unset_rule_leaves_its_step_out() -> None:
    bare = ops.create(SESSION, S)
    ruled = ops.create(SESSION, S, Rules(naming=GenerateName("n-{n}"), quota=EnforceQuota(3)))
    assert "GenerateName" not in bare.step_names and "EnforceQuota" not in bare.step_names
    assert ruled.step_names[ruled.step_names.index("GenerateName") + 2] == "CheckDuplicate"
    assert "DeleteChildren" not in ops.delete(SESSION, S).step_names
    assert any(isinstance(s, DeleteChildren) for s in ops.delete(SESSION, S, Rules(children=True)).steps)
    assert (bare.name, bare.write, ops.get(SESSION, S).write) == ("session.create", True, False)


def test_operations_are_keyed_by_the_method_name() -> None:
    service = KindService(SESSION, [ops.create(SESSION, S), ops.get(SESSION, S)])
    assert sorted(service.pipelines) == ["create", "get"]
    foreign = ops.create(SESSION, S)
    foreign.name = "note.create"
    with pytest.raises(ValueError, match="must be named session"):
        KindService(SESSION, [foreign])


def test_every_method_needs_an_operation_and_every_operation_a_method() -> None:
    full = session_service(SessionConfig(), S)
    every = list(full.pipelines.values())
    assert KindService(SESSION, every, services=SERVICES, feed=full.feed).services == SERVICES
    with pytest.raises(ValueError, match="SessionCommandController/apply has no session operation"):
        KindService(
            SESSION, [p for p in every if p.name != "session.apply"], services=SERVICES, feed=full.feed
        )
    extra = operation(SESSION, "extra", [], write=False, doc="")
    with pytest.raises(ValueError, match=r"served by no gRPC method: \['extra'\]"):
        KindService(SESSION, [*every, extra], services=SERVICES, feed=full.feed)
    with pytest.raises(ValueError, match="only a change-feed watch may stream"):
        KindService(SESSION, every, services=SERVICES)  # a watch method, but no feed


def test_resources_run_passes_the_call_options_into_the_context(tmp_path: Path) -> None:
    store = LmdbStorage(tmp_path)
    try:
        resources = Resources(
            store,
            [KindService(SESSION, [ops.create(SESSION, S), ops.delete(SESSION, S)])],
            hub=EventHub(0),
            validator=shared_validator(),
        )
        created = resources.run("session", "create", make_session(), request_id="r-1")[RESPONSE]
        ctx = resources.run("session", "delete", SessionId(value=created.metadata.id), cascade=True)
        assert ctx[CASCADE] is True and ctx[RESPONSE].metadata.id == created.metadata.id
        with pytest.raises(InvalidArgument, match="request_id"):
            resources.run("session", "create", make_session(), request_id="x" * 254)
        with pytest.raises(InvalidArgument, match="has no change feed"):
            list(resources.watch("session", WatchSessionChangesResponse()))
        with pytest.raises(ValueError, match="served twice"):
            Resources(store, [resources.kinds["session"]] * 2, hub=EventHub(0), validator=shared_validator())
    finally:
        store.close()


class _Context:
    def __init__(self, *metadata: tuple[str, str]) -> None:
        self.metadata = metadata

    def invocation_metadata(self) -> tuple[tuple[str, str], ...]:
        return self.metadata


def test_x_cascade_is_a_boolean_call_option() -> None:
    assert CallOptions.of(_Context(("x-cascade", "true"))).cascade is True  # type: ignore[arg-type]
    assert CallOptions.of(_Context(("x-cascade", "no"))).cascade is False  # type: ignore[arg-type]
    assert CallOptions.of(_Context()).cascade is False  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument) as caught:
        CallOptions.of(_Context(("x-cascade", "all")))  # type: ignore[arg-type]
    assert caught.value.violations[0].field == "x-cascade"
    assert caught.value.code == grpc.StatusCode.INVALID_ARGUMENT
