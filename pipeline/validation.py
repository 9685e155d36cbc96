"""protovalidate, once per process, turned into our error type.

Building a validator compiles the CEL rules of each message type the first time it sees it,
which costs milliseconds; :func:`shared_validator` hands out one instance for the process and
:func:`warm_up` pays that cost at start-up instead of on the first request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

import protovalidate
from google.protobuf.message import Message

from pipeline.errors import FieldViolation, Internal, InvalidArgument

_shared: protovalidate.Validator | None = None
_shared_lock = threading.Lock()


def shared_validator() -> protovalidate.Validator:
    global _shared  # noqa: PLW0603 - one validator per process is the point
    if _shared is None:
        with _shared_lock:
            if _shared is None:
                _shared = protovalidate.Validator()
    return _shared


def field_path(violation: Any) -> str:
    """``metadata.labels["env"]``, ``metadata.tags[2]``: a violation's field as users write it."""
    parts: list[str] = []
    for element in violation.field.elements if violation.field else ():
        name = element.field_name
        subscript = element.subscript
        if subscript is None:
            parts.append(name)
            continue
        key = subscript.value if hasattr(subscript, "value") else subscript
        parts.append(f'{name}["{key}"]' if isinstance(key, str) else f"{name}[{key}]")
    return ".".join(parts)


def violations_of(message: Message, validator: protovalidate.Validator | None = None) -> list[FieldViolation]:
    """Every rule ``message`` breaks, as FieldViolations (empty when valid)."""
    try:
        found = (validator or shared_validator()).collect_violations(message)
    except (protovalidate.CompilationError, protovalidate.EvaluationError) as exc:
        raise Internal(f"validation rules of {message.DESCRIPTOR.full_name} failed: {exc}") from exc
    return [FieldViolation(field_path(v.proto), v.proto.rule_id, v.proto.message) for v in found]


def validate(message: Message, validator: protovalidate.Validator | None = None) -> None:
    """Raise InvalidArgument listing every violation of ``message``'s rules."""
    violations = violations_of(message, validator)
    if violations:
        detail = "; ".join(f"{v.field or '(message)'}: {v.message}" for v in violations)
        raise InvalidArgument(f"invalid {message.DESCRIPTOR.name}: {detail}", violations)


def warm_up(messages: Iterable[Message], validator: protovalidate.Validator | None = None) -> None:
    """Compile the rules of each message's type now (the result is ignored)."""
    for message in messages:
        violations_of(message, validator)
