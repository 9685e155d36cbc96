"""Bounds on the per-call strings that do not travel in a message: actor, request id, caused-by
and expected version (gRPC headers ``x-actor-id``, ``x-request-id``, ``x-caused-by``,
``x-if-match``, or the controller's keyword arguments).

The actor and the request id become parts of storage keys (the per-owner index, remembered
requests), and LMDB refuses keys over 511 bytes; the bounds keep the longest key any index
builds under that (the arithmetic is in docs/limits.md and a test writes every field at its
maximum). Message fields carry their bounds as protovalidate rules in the protos instead.
Control characters are refused too: gRPC headers cannot carry them, so the library path
accepts exactly what the network path can deliver.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from pipeline.errors import FieldViolation, InvalidArgument

MAX_ACTOR_BYTES = 253
MAX_REQUEST_ID_BYTES = 253
MAX_CAUSED_BY_BYTES = 253
MAX_VERSION_BYTES = 63


def violation(field: str, value: str, max_bytes: int) -> FieldViolation | None:
    """Why ``value`` is not acceptable as ``field`` (None when it is)."""
    size = len(value.encode())
    if size > max_bytes:
        return FieldViolation(field, "header.max_bytes", f"is {size} bytes; the limit is {max_bytes} bytes")
    if any(unicodedata.category(c) == "Cc" for c in value):
        return FieldViolation(field, "header.control_characters", "must not contain control characters")
    return None


def check(values: Iterable[tuple[str, str, int]]) -> None:
    """Raise InvalidArgument listing every (field, value, max_bytes) that breaks its bound."""
    found = [v for field, value, limit in values if value and (v := violation(field, value, limit))]
    if found:
        raise InvalidArgument.listing(found, "invalid call options")
