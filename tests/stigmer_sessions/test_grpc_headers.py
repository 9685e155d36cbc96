"""Each write header end to end: x-request-id, x-if-match, x-dry-run; and the new list fields."""

from __future__ import annotations

import grpc
import pytest

from pipeline.storage import Storage
from stigmer_sessions import Session, SessionController, retry_on_conflict
from stigmer_sessions.api import (
    ApiResourceOwnerScope,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    SessionId,
)
from tests.conftest import Stubs, make_session


def test_x_request_id_replays_a_create(stubs: Stubs, controller: SessionController) -> None:
    headers = (("x-request-id", "req-42"),)
    first = stubs.command.create(make_session("Idem"), metadata=headers)
    assert stubs.command.create(make_session("Idem"), metadata=headers) == first
    assert controller.list().total_size == 1
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(make_session("Other"), metadata=headers)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS


def test_x_if_match_on_delete(stubs: Stubs) -> None:
    s = stubs.command.create(make_session())
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.delete(SessionId(value=s.metadata.id), metadata=(("x-if-match", "stale"),))
    assert err.value.code() == grpc.StatusCode.ABORTED
    assert "'stale'" in (err.value.details() or "")
    match = (("x-if-match", s.metadata.version.id),)
    assert stubs.command.delete(SessionId(value=s.metadata.id), metadata=match) == s


def test_update_with_stale_body_version_is_aborted_and_retry_helper_recovers(stubs: Stubs) -> None:
    s = stubs.command.create(make_session())
    other = Session()
    other.CopyFrom(s)
    other.spec.subject = "someone else"
    stubs.command.update(other)

    mine = Session()
    mine.CopyFrom(s)
    mine.spec.subject = "mine"
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.update(mine)
    assert err.value.code() == grpc.StatusCode.ABORTED

    def attempt() -> Session:
        current = stubs.query.get(SessionId(value=s.metadata.id))
        current.metadata.labels["edited-by"] = "me"
        return stubs.command.update(current)  # type: ignore[no-any-return]

    result = retry_on_conflict(attempt)
    assert result.metadata.labels["edited-by"] == "me"
    assert result.spec.subject == "someone else"


def test_x_dry_run_writes_nothing(stubs: Stubs, store: Storage) -> None:
    existing = stubs.command.create(make_session("existing"))
    before = store.snapshot()
    dry = (("x-dry-run", "true"),)
    preview = stubs.command.create(make_session("preview"), metadata=dry)
    assert preview.metadata.slug == "preview"
    assert stubs.command.delete(SessionId(value=existing.metadata.id), metadata=dry) == existing
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(make_session("existing"), metadata=dry)
    assert err.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert store.snapshot() == before


def test_bad_x_dry_run_value_is_invalid_argument(stubs: Stubs) -> None:
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(make_session(), metadata=(("x-dry-run", "maybe"),))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "x-dry-run" in (err.value.details() or "")


def test_list_fields_over_the_wire(stubs: Stubs) -> None:
    ids = []
    for i in range(4):
        s = make_session(f"w{i}", agent="ain-x", tags=("t",))
        s.metadata.labels["env"] = "prod" if i % 2 else "dev"
        ids.append(stubs.command.create(s).metadata.id)
    page = stubs.query.list(ListSessionsRequest(label_selector="env=prod", order_by="create_time asc"))
    assert [s.metadata.id for s in page.entries] == [ids[1], ids[3]]
    page = stubs.query.listByAgent(
        ListSessionsByAgentRequest(
            agent_id="ain-x",
            tags=["t"],
            label_selector="env!=prod",
            owner_scope=ApiResourceOwnerScope.organization,
        )
    )
    assert [s.metadata.id for s in page.entries] == [ids[2], ids[0]]
    with pytest.raises(grpc.RpcError) as err:
        stubs.query.list(ListSessionsRequest(label_selector="env in (a)"))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
