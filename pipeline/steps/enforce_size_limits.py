"""EnforceSizeLimits: bound the size of whole parts of a request, not only single fields."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from google.protobuf.message import Message

from pipeline.context import RequestContext
from pipeline.errors import FieldViolation, InvalidArgument


@dataclass(frozen=True, slots=True)
class SizeLimit:
    """At most ``max_bytes`` in ``field`` (a dotted path; "" is the whole request, measured
    serialized). A map counts its keys plus values and a string its UTF-8 bytes, as
    Kubernetes measures annotations."""

    field: str
    max_bytes: int


def size_of(value: Any) -> int:
    if isinstance(value, Message):
        return value.ByteSize()
    if isinstance(value, str):
        return len(value.encode())
    if isinstance(value, bytes):
        return len(value)
    if isinstance(value, Mapping):
        return sum(size_of(k) + size_of(v) for k, v in value.items())
    return sum(size_of(item) for item in value)  # repeated fields


def _resolve(message: Message, path: str) -> Any:
    value: Any = message
    for name in path.split(".") if path else ():
        value = getattr(value, name)
    return value


@dataclass(frozen=True, slots=True)
class EnforceSizeLimits:
    """Reads ``ctx.input``. Raises InvalidArgument with one violation per limit exceeded,
    naming the field (``(request)`` for the whole request), its size and the limit.

    Per-field rules cannot see totals (a thousand 1 KiB annotations are each fine); these
    limits keep one record, and so every page and change carrying it, of bounded size.
    Runs before anything is written.
    """

    limits: tuple[SizeLimit, ...]
    message_name: str = "request"

    def __call__(self, ctx: RequestContext[Any]) -> None:
        found = []
        for limit in self.limits:
            size = size_of(_resolve(ctx.input, limit.field))
            if size > limit.max_bytes:
                where = limit.field or f"({self.message_name})"
                found.append(
                    FieldViolation(
                        where,
                        "size.max_bytes",
                        f"is {size} bytes{' serialized' if not limit.field else ' in total'}; "
                        f"the limit is {limit.max_bytes} bytes",
                    )
                )
        if found:
            raise InvalidArgument.listing(found, f"{self.message_name} too large")
