"""Key-part bounds: every field that becomes part of a storage key works at its maximum (in
the worst case: NUL bytes, which the key codec escapes to two bytes each) through every
operation that builds a key from it, and one byte more is INVALID_ARGUMENT naming the field
and the limit, with nothing written."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from grpc_status import rpc_status

from pipeline.errors import InvalidArgument
from pipeline.grpc_status import bad_request_of
from pipeline.listing import encode_token, fingerprint
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import (
    AgentInstance,
    AgentInstanceSpec,
    ApiResourceMetadata,
    ApiResourceReference,
    ListSessionChangesRequest,
    ListSessionMessagesRequest,
    ListSessionsByAgentRequest,
    ListSessionsRequest,
    PageInfo,
    Session,
    SessionId,
    SessionSpec,
    TransitionSessionRequest,
    WatchSessionChangesRequest,
)
from stigmer_sessions.steps.list_messages import message_query
from tests.conftest import ORG, Stubs, data_tables

NUL = "\x00"
ORG_MAX = NUL * 63
TAG_MAX = NUL * 63
AGENT_MAX = NUL * 127
LABEL_KEY_MAX = ".".join(["a" * 63] * 4)[:252] + "b/" + "c" * 63  # 253-char prefix, 63-char name
LABEL_VALUE_MAX = "v" * 63
SLUG_MAX = "s" * 63
ACTOR_MAX = "a" * 253
REQUEST_ID_MAX = "r" * 253
CAUSED_BY_MAX = "c" * 253


def _max_session(slug: str = SLUG_MAX, **meta: Any) -> Session:
    return Session(
        metadata=ApiResourceMetadata(
            **{
                "name": "at the limits",
                "slug": slug,
                "org": ORG_MAX,
                "owner_scope": ORG,
                "tags": [TAG_MAX, "t" * 63],
                "labels": {LABEL_KEY_MAX: LABEL_VALUE_MAX, "empty": ""},
                **meta,
            }
        ),
        spec=SessionSpec(agent_instance_id=AGENT_MAX),
    )


def test_every_key_part_at_its_maximum_works_everywhere(controller: SessionController) -> None:
    assert len(LABEL_KEY_MAX.split("/")[0]) == 253
    created = controller.create(_max_session(), actor=ACTOR_MAX, request_id=REQUEST_ID_MAX)
    second = controller.create(_max_session(slug="t" * 63), actor=ACTOR_MAX)
    sid = created.metadata.id
    assert controller.create(_max_session(), actor=ACTOR_MAX, request_id=REQUEST_ID_MAX) == created
    assert controller.get(sid) == created
    assert controller.get_by_reference(org=ORG_MAX, slug=SLUG_MAX) == created

    selector = f"{LABEL_KEY_MAX}={LABEL_VALUE_MAX},empty="
    first = controller.list(org=ORG_MAX, tags=[TAG_MAX], label_selector=selector, page_size=1)
    assert [s.metadata.id for s in first.entries] == [second.metadata.id]
    rest = controller.list(
        org=ORG_MAX, tags=[TAG_MAX], label_selector=selector, page_size=1, page_token=first.next_page_token
    )
    assert [s.metadata.id for s in rest.entries] == [sid]
    by_agent = controller.list_by_agent(
        ListSessionsByAgentRequest(agent_id=AGENT_MAX, org=ORG_MAX, tags=["t" * 63], page_size=1)
    )
    more = controller.list_by_agent(
        ListSessionsByAgentRequest(
            agent_id=AGENT_MAX, org=ORG_MAX, tags=["t" * 63], page_size=1, page_token=by_agent.next_page_token
        )
    )
    assert {s.metadata.id for s in [*by_agent.entries, *more.entries]} == {sid, second.metadata.id}

    controller.append_message(sid, "user", "hi", actor=ACTOR_MAX, request_id="m" * 253)
    controller.append_message(sid, "assistant", "hello", actor=ACTOR_MAX)
    page = controller.list_messages(ListSessionMessagesRequest(session_id=sid, page_size=1))
    assert page.messages[0].content == "hi"
    assert controller.list_messages(session_id=sid, page_token=page.next_page_token).messages[0].content == (
        "hello"
    )
    assert [m.content for m in controller.resume(sid).messages] == ["hi", "hello"]

    controller.pin(sid, actor=ACTOR_MAX)
    moved = controller.transition(sid, "paused", actor=ACTOR_MAX, caused_by=CAUSED_BY_MAX)
    assert moved.state.phase == "paused"
    changes = controller.list_changes(session_id=sid, org=ORG_MAX, page_size=2)
    later = controller.list_changes(session_id=sid, org=ORG_MAX, page_token=changes.next_page_token)
    assert len(changes.changes) + len(later.changes) == 5  # created, 2 messages, pinned, phase
    assert later.changes[-1].caused_by == CAUSED_BY_MAX
    by_org = controller.list_changes(org=ORG_MAX)
    assert len(by_org.changes) == 6

    updated = Session()
    updated.CopyFrom(controller.get(sid))
    updated.spec.subject = "still fine"
    controller.update(updated, actor=ACTOR_MAX, expected_version=updated.metadata.version.id)
    controller.delete(sid, actor=ACTOR_MAX, request_id="d" * 253)
    assert controller.check().ok


def _max_instance(slug: str = SLUG_MAX) -> AgentInstance:
    session = _max_session(slug)
    return AgentInstance(metadata=session.metadata, spec=AgentInstanceSpec(agent_id=AGENT_MAX))


def test_every_agent_instance_key_part_at_its_maximum_works_everywhere(controller: SessionController) -> None:
    instances = controller.agent_instances
    created = instances.create(_max_instance(), actor=ACTOR_MAX, request_id=REQUEST_ID_MAX)
    second = instances.create(_max_instance(slug="t" * 63), actor=ACTOR_MAX)
    iid = created.metadata.id
    assert instances.create(_max_instance(), actor=ACTOR_MAX, request_id=REQUEST_ID_MAX) == created
    assert instances.get(iid) == created
    assert instances.get_by_reference(org=ORG_MAX, slug=SLUG_MAX) == created
    first = instances.get_by_agent(agent_id=AGENT_MAX, org=ORG_MAX, page_info=PageInfo(size=1))
    rest = instances.get_by_agent(
        agent_id=AGENT_MAX, org=ORG_MAX, page_info=PageInfo(size=1), page_token=first.next_page_token
    )
    assert [i.metadata.id for i in [*first.items, *rest.items]] == [second.metadata.id, iid]
    assert first.total_count == 2
    assert instances.get_by_agent(agent_id=AGENT_MAX, page_info=PageInfo(num=2, size=1)).items == rest.items
    updated = AgentInstance()
    updated.CopyFrom(created)
    updated.spec.description = "still fine"
    instances.update(updated, actor=ACTOR_MAX, expected_version=created.metadata.version.id)
    changes = instances.list_changes(agent_instance_id=iid, org=ORG_MAX)
    assert [c.type for c in changes.changes] == ["AgentInstanceCreated", "AgentInstanceUpdated"]
    instances.delete(iid, actor=ACTOR_MAX, request_id="d" * 253, cascade=True)
    assert controller.check().ok


Call = Callable[[SessionController], object]


def _create(**meta: Any) -> Call:
    return lambda c: c.create(_max_session(**meta))


def _with_spec(agent: str) -> Call:
    s = _max_session()
    s.spec.agent_instance_id = agent
    return lambda c: c.create(s)


def _with_version(version_id: str) -> Session:
    s = _max_session()
    s.metadata.id = "ses-x"
    s.metadata.version.id = version_id
    return s


OVER: list[tuple[str, Call, str, str]] = [
    ("org", _create(org="o" * 64), "metadata.org", "63 bytes"),
    ("org-multibyte", _create(org="é" * 32), "metadata.org", "63 bytes"),
    ("slug", _create(slug="s" * 64), "metadata.slug", "63 bytes"),
    ("tag", _create(tags=["t" * 64]), "metadata.tags[0]", "63 bytes"),
    ("label-key", _create(labels={"k" * 64: "v"}), 'metadata.labels["' + "k" * 64 + '"]', "1-63"),
    ("label-prefix", _create(labels={"p" * 254 + "/k": "v"}), "metadata.labels[", "253"),
    ("label-value", _create(labels={"k": "v" * 64}), 'metadata.labels["k"]', "1-63"),
    ("agent", _with_spec("a" * 128), "spec.agent_instance_id", "127 bytes"),
    ("actor", lambda c: c.create(_max_session(), actor="a" * 254), "actor", "253 bytes"),
    ("request-id", lambda c: c.create(_max_session(), request_id="r" * 254), "request_id", "253 bytes"),
    ("caused-by", lambda c: c.transition("ses-x", "paused", caused_by="c" * 254), "caused_by", "253 bytes"),
    (
        "expected-version",
        lambda c: c.delete("ses-x", expected_version="v" * 64),
        "expected_version",
        "63 bytes",
    ),
    ("actor-control", lambda c: c.create(_max_session(), actor="al\x00ice"), "actor", "control characters"),
    ("get-id", lambda c: c.get("i" * 64), "value", "63 bytes"),
    ("delete-id", lambda c: c.delete("i" * 64), "value", "63 bytes"),
    (
        "reference-org",
        lambda c: c.get_by_reference(ApiResourceReference(org="o" * 64, slug="s")),
        "org",
        "63 bytes",
    ),
    (
        "reference-slug",
        lambda c: c.get_by_reference(ApiResourceReference(org="o", slug="s" * 64)),
        "slug",
        "63 bytes",
    ),
    ("list-org", lambda c: c.list(ListSessionsRequest(org="o" * 64)), "org", "63 bytes"),
    ("list-tag", lambda c: c.list(ListSessionsRequest(tags=["t" * 64])), "tags[0]", "63 bytes"),
    ("list-token", lambda c: c.list(ListSessionsRequest(page_token="t" * 129)), "page_token", "128"),
    (
        "by-agent",
        lambda c: c.list_by_agent(ListSessionsByAgentRequest(agent_id="a" * 128)),
        "agent_id",
        "127 bytes",
    ),
    (
        "transition-phase",
        lambda c: c.run("transition", TransitionSessionRequest(session_id="ses-x", phase="p" * 64)),
        "phase",
        "63 bytes",
    ),
    ("message-session", lambda c: c.append_message("s" * 64, "user", "hi"), "session_id", "63 bytes"),
    (
        "messages-session",
        lambda c: c.list_messages(ListSessionMessagesRequest(session_id="s" * 64)),
        "session_id",
        "63 bytes",
    ),
    ("resume-session", lambda c: c.resume("s" * 64), "session_id", "63 bytes"),
    (
        "changes-session",
        lambda c: c.list_changes(ListSessionChangesRequest(session_id="s" * 64)),
        "session_id",
        "63 bytes",
    ),
    (
        "changes-org",
        lambda c: c.list_changes(ListSessionChangesRequest(org="o" * 64)),
        "org",
        "63 bytes",
    ),
    (
        "changes-type",
        lambda c: c.list_changes(ListSessionChangesRequest(types=["t" * 64])),
        "types[0]",
        "63 bytes",
    ),
    ("version-id", lambda c: c.update(_with_version("v" * 64)), "metadata.version.id", "63 bytes"),
    (
        "reference-version",
        lambda c: c.get_by_reference(ApiResourceReference(org="o", slug="s", version="v" * 64)),
        "version",
        "63 bytes",
    ),
    ("list-order", lambda c: c.list(ListSessionsRequest(order_by="o" * 65)), "order_by", "64"),
    (
        "by-agent-org",
        lambda c: c.list_by_agent(ListSessionsByAgentRequest(agent_id="a", org="o" * 64)),
        "org",
        "63 bytes",
    ),
    (
        "by-agent-tag",
        lambda c: c.list_by_agent(ListSessionsByAgentRequest(agent_id="a", tags=["t" * 64])),
        "tags[0]",
        "63 bytes",
    ),
    (
        "by-agent-token",
        lambda c: c.list_by_agent(ListSessionsByAgentRequest(agent_id="a", page_token="t" * 129)),
        "page_token",
        "128",
    ),
    (
        "messages-token",
        lambda c: c.list_messages(ListSessionMessagesRequest(session_id="s", page_token="t" * 129)),
        "page_token",
        "128",
    ),
    (
        "changes-token",
        lambda c: c.list_changes(ListSessionChangesRequest(page_token="t" * 129)),
        "page_token",
        "128",
    ),
    (
        "transition-version",
        lambda c: c.transition("ses-x", "paused", expected_version="v" * 64),
        "expected_version",
        "63 bytes",
    ),
    (
        "watch-session",
        lambda c: next(iter(c.watch(WatchSessionChangesRequest(session_id="s" * 64)))),
        "session_id",
        "63 bytes",
    ),
    (
        "watch-type",
        lambda c: next(iter(c.watch(WatchSessionChangesRequest(types=["t" * 64])))),
        "types[0]",
        "63 bytes",
    ),
    (
        "watch-org",
        lambda c: next(iter(c.watch(WatchSessionChangesRequest(org="o" * 64)))),
        "org",
        "63 bytes",
    ),
]


@pytest.mark.parametrize(("call", "field", "limit"), [o[1:] for o in OVER], ids=[o[0] for o in OVER])
def test_one_byte_over_is_invalid_argument_naming_field_and_limit(
    store: Storage, controller: SessionController, call: Call, field: str, limit: str
) -> None:
    before = data_tables(store)
    with pytest.raises(InvalidArgument) as err:
        call(controller)
    assert any(v.field.startswith(field) and limit in v.message for v in err.value.violations), (
        err.value.violations
    )
    assert data_tables(store) == before


def test_a_crafted_page_token_with_a_long_id_is_invalid_argument(controller: SessionController) -> None:
    # Fingerprints are not secret, so a client can forge a token; its id must still be bounded.
    token = base64.urlsafe_b64encode(b"\x01" + b"\x00" * 8 + b"x" * 80).rstrip(b"=").decode()
    with pytest.raises(InvalidArgument) as err:
        controller.list(ListSessionsRequest(page_token=token))
    assert err.value.violations[0].field == "page_token"
    sid = controller.create(_max_session()).metadata.id
    with pytest.raises(InvalidArgument):
        controller.list_messages(session_id=sid, page_token=token)
    numeric = encode_token(message_query(sid, False), "abc")
    with pytest.raises(InvalidArgument):  # a non-numeric position was INTERNAL (int() failed)
        controller.list_messages(session_id=sid, page_token=numeric)
    controller.append_message(session_id=sid, role="role_user", content="hi")
    huge = "9" * 63  # numeric, but past int64: was INTERNAL (struct.error packing the key)
    for newest_first in (False, True):
        with pytest.raises(InvalidArgument):
            controller.list_messages(
                session_id=sid,
                newest_first=newest_first,
                page_token=encode_token(message_query(sid, newest_first), huge),
            )
    with pytest.raises(InvalidArgument):
        controller.list_changes(page_token=encode_token(fingerprint("session", "events", "", "", []), huge))


HEADERS = [
    ("x-actor-id", "a" * 254, "253 bytes"),
    ("x-request-id", "r" * 254, "253 bytes"),
    ("x-caused-by", "c" * 254, "253 bytes"),
    ("x-if-match", "v" * 64, "63 bytes"),
]


@pytest.mark.parametrize(("header", "value", "limit"), HEADERS, ids=[h[0] for h in HEADERS])
def test_headers_over_their_bound_are_invalid_argument_at_the_seam(
    stubs: Stubs, store: Storage, header: str, value: str, limit: str
) -> None:
    before = data_tables(store)
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(_max_session(), metadata=((header, value),))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert header in (err.value.details() or "") and limit in (err.value.details() or "")
    bad = bad_request_of(_status_of(err.value))
    assert bad is not None and bad.field_violations[0].field == header
    assert data_tables(store) == before


def test_a_600_byte_org_over_grpc_is_invalid_argument_not_internal(stubs: Stubs, store: Storage) -> None:
    before = data_tables(store)
    with pytest.raises(grpc.RpcError) as err:
        stubs.command.create(_max_session(org="o" * 600))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "metadata.org" in (err.value.details() or "") and "63 bytes" in (err.value.details() or "")
    with pytest.raises(grpc.RpcError) as err:
        stubs.query.get(SessionId(value="x" * 600))
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert data_tables(store) == before


def _status_of(error: grpc.RpcError) -> Any:
    return rpc_status.from_call(error)
