"""Status-only steps say which fields they change, and say all of them: Persist trusts that
to skip every index reading none of them, so a field left out would leave an index stale."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.protobuf.message import Message

from pipeline.context import RequestContext
from pipeline.keys import CHANGED_FIELDS, EXISTING
from stigmer_sessions import SessionController
from stigmer_sessions.api import AppendSessionMessageRequest, SessionId, TransitionSessionRequest
from stigmer_sessions.steps import AppendMessage, ApplyTransition, SetPinned
from tests.conftest import RunStep, make_session


def changed_paths(old: Message, new: Message, prefix: str = "") -> Iterator[str]:
    """The dotted paths of the leaf fields (or whole repeated/map fields) that differ."""
    for field in old.DESCRIPTOR.fields:
        path = prefix + field.name
        a, b = getattr(old, field.name), getattr(new, field.name)
        if a == b:
            continue
        if field.message_type is not None and not field.is_repeated:
            yield from changed_paths(a, b, path + ".")
        else:
            yield path


def covered(path: str, declared: frozenset[str]) -> bool:
    return any(path == d or path.startswith(d + ".") for d in declared)


STEPS: list[tuple[str, Callable[[], Any], Callable[[], Message], Callable[[SessionController, str], Any]]] = [
    ("pin", lambda: SetPinned(True), SessionId, lambda c, i: None),
    ("unpin", lambda: SetPinned(False), SessionId, lambda c, i: c.pin(i)),
    (
        "transition",
        ApplyTransition,
        lambda: TransitionSessionRequest(phase="paused"),
        lambda c, i: None,
    ),
    (
        "append",
        AppendMessage,
        lambda: AppendSessionMessageRequest(content="hi", role="role_user"),
        lambda c, i: None,
    ),
]


@pytest.mark.parametrize("case", STEPS, ids=[s[0] for s in STEPS])
def test_a_status_step_declares_every_field_it_changes(
    run_step: RunStep, controller: SessionController, case: tuple[Any, ...]
) -> None:
    name, step, request_of, prepare = case
    session_id = controller.create(make_session()).metadata.id
    prepare(controller, session_id)
    existing = controller.get(session_id)
    request: Any = request_of()
    if hasattr(request, "session_id"):
        request.session_id = session_id
    later = existing.status.audit.spec_audit.created_at.ToNanoseconds() + 10**9
    ctx: RequestContext[Any] = run_step(step(), request, values={EXISTING: existing}, now_ns=later)
    moved = set(changed_paths(existing, ctx.new_state))
    assert moved, f"{name} changed nothing: the test proves nothing"
    declared = ctx[CHANGED_FIELDS]
    assert {p for p in moved if not covered(p, declared)} == set()
