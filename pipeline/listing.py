"""List queries: which index serves them, and opaque page tokens that survive writes.

A page token records the id of the last item returned and a fingerprint of the query. The
next page resumes strictly after that id in the index, so items inserted or deleted between
pages shift nothing: every item that existed throughout the walk is seen exactly once. A
token replayed with a different query is refused rather than silently mis-resumed.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from typing import Any

from pipeline.errors import InvalidArgument

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
_TOKEN_VERSION = 1
_FINGERPRINT_BYTES = 8


@dataclass(frozen=True)
class ListScope:
    """The index (None: all records of the kind) and entry values a list is read from.

    ``exact`` says the index holds precisely the records the request's filters select, so
    its counter is the list's total and no record needs checking.
    """

    index: str | None = None
    values: tuple[str, ...] = ()
    exact: bool = True


@dataclass
class Page:
    """One page of results plus what the response needs to describe the whole list."""

    entries: list[Any] = field(default_factory=list)
    next_page_token: str = ""
    total_size: int = 0
    page_size: int = DEFAULT_PAGE_SIZE

    @property
    def total_pages(self) -> int:
        return -(-self.total_size // self.page_size) if self.total_size else 0


def clamp_page_size(requested: int) -> int:
    """0 (unset) means the default; anything above the maximum is clamped to it."""
    if requested <= 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


def fingerprint(*parts: object) -> bytes:
    return hashlib.blake2b(repr(parts).encode(), digest_size=_FINGERPRINT_BYTES).digest()


def encode_token(query: bytes, last_id: str) -> str:
    raw = bytes([_TOKEN_VERSION]) + query + last_id.encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_token(token: str, query: bytes, field_name: str = "page_token") -> str:
    """The last id a token resumes after; InvalidArgument if it is malformed or was issued
    for another query."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        last_id = raw[1 + _FINGERPRINT_BYTES :].decode()
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raw, last_id = b"", ""
    if len(raw) <= 1 + _FINGERPRINT_BYTES or raw[0] != _TOKEN_VERSION or not last_id:
        raise InvalidArgument.for_field(field_name, "is not a valid page token", "page_token.invalid")
    if raw[1 : 1 + _FINGERPRINT_BYTES] != query:
        raise InvalidArgument.for_field(
            field_name,
            "was issued for a different query; repeat the filters of the request that returned it",
            "page_token.query_mismatch",
        )
    return last_id
