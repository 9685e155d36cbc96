from typing import Any

import pytest

from pipeline import idempotency
from pipeline.auth import Principal
from pipeline.errors import AlreadyExists
from pipeline.keys import PRINCIPAL, REPLAYED, REQUEST_ID, RESPONSE
from pipeline.steps import CheckIdempotency
from pipeline.storage import Storage
from stigmer_sessions import Session
from tests.conftest import RunStep, make_session

NOW = 10**18


def _remember(store: Storage, request: Session, response: Session, *, expires: int = NOW + 100) -> None:
    digest = idempotency.fingerprint("op", request)
    store.write(
        lambda txn: txn.requests.remember(
            "session", "r1", fingerprint=digest, response=response.SerializeToString(), expires_at_ns=expires
        )
    )


def _run(
    run_step: RunStep, request: Session, values_extra: dict[Any, Any] | None = None, **kw: object
) -> object:
    def step(ctx: object) -> None:
        ctx.operation = "op"  # type: ignore[attr-defined]
        CheckIdempotency()(ctx)  # type: ignore[arg-type]

    values = {REQUEST_ID: "r1", **(values_extra or {})}
    return run_step(step, request, values=values, now_ns=NOW, write=False, **kw)


def test_without_request_id_does_nothing(run_step: RunStep) -> None:
    ctx = run_step(CheckIdempotency(), make_session(), write=False)
    assert not ctx.finished
    assert RESPONSE not in ctx


def test_unknown_request_id_continues(run_step: RunStep) -> None:
    ctx = _run(run_step, make_session())
    assert not ctx.finished  # type: ignore[attr-defined]


def test_same_request_replays_and_finishes(run_step: RunStep, store: Storage) -> None:
    request, response = make_session("a"), make_session("the first answer")
    _remember(store, request, response)
    ctx = _run(run_step, request)
    assert ctx[RESPONSE] == response  # type: ignore[index]
    assert ctx[REPLAYED] is True  # type: ignore[index]
    assert ctx.finished  # type: ignore[attr-defined]


def test_different_payload_is_already_exists(run_step: RunStep, store: Storage) -> None:
    _remember(store, make_session("a"), make_session("answer"))
    with pytest.raises(AlreadyExists, match="'r1' was already used for a different request"):
        _run(run_step, make_session("b"))


def test_expired_entry_is_ignored(run_step: RunStep, store: Storage) -> None:
    request = make_session("a")
    _remember(store, request, make_session("answer"), expires=NOW)
    assert not _run(run_step, request).finished  # type: ignore[attr-defined]


def test_another_principals_request_id_is_neither_replayed_nor_refused(
    run_step: RunStep, store: Storage
) -> None:
    """A trusted caller's (or another principal's) entry under the same id is invisible to
    a principal: its request just continues, as for an id never used."""
    request = make_session("a")
    _remember(store, request, make_session("someone else's answer"))
    for payload in (request, make_session("b")):  # the same payload, and another one
        ctx = _run(run_step, payload, values_extra={PRINCIPAL: Principal("mallory")})
        assert not ctx.finished and RESPONSE not in ctx  # type: ignore[attr-defined, operator]


def test_a_principals_own_request_id_replays(run_step: RunStep, store: Storage) -> None:
    request, response = make_session("a"), make_session("her first answer")
    key = idempotency.scoped("r1", "alice")
    digest = idempotency.fingerprint("op", request)
    store.write(
        lambda txn: txn.requests.remember(
            "session", key, fingerprint=digest, response=response.SerializeToString(), expires_at_ns=NOW + 100
        )
    )
    ctx = _run(run_step, request, values_extra={PRINCIPAL: Principal("alice")})
    assert ctx[RESPONSE] == response  # type: ignore[index]
    other = _run(run_step, request, values_extra={PRINCIPAL: Principal("bob")})
    assert RESPONSE not in other  # type: ignore[operator]
