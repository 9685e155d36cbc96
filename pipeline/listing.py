"""List queries: which index serves them, and opaque page tokens that survive writes.

A page token records the id of the last item returned and a fingerprint of the query. The
next page resumes strictly after that id in the index, so items inserted or deleted between
pages shift nothing: every item that existed throughout the walk is seen exactly once. A
token replayed with a different query is refused rather than silently mis-resumed.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pipeline import selectors
from pipeline.errors import InvalidArgument, quote

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
#: A page stops filling before its response would pass this many bytes: a default gRPC
#: client receives at most 4 MiB, and this leaves room for what is not counted exactly.
DEFAULT_MAX_RESPONSE_BYTES = 3 * 1024 * 1024
#: The smallest budget a deployment may configure (smaller ones only make more round trips).
MIN_RESPONSE_BYTES = 64 * 1024
#: Counted once per page for the response's own fields (page token, totals, revisions):
#: a token is under 100 bytes and each number at most 11 with its tag.
RESPONSE_OVERHEAD_BYTES = 256
#: Counted per entry on top of its serialized size: a repeated message field's tag and
#: length prefix take at most 1 + 5 bytes; 16 is conservative.
ENTRY_OVERHEAD_BYTES = 16
_TOKEN_VERSION = 1
_FINGERPRINT_BYTES = 8
#: The longest last id a token may carry: ids are at most 63 bytes (docs/limits.md), and a
#: crafted token must not make a seek key longer than the store accepts.
MAX_TOKEN_ID_BYTES = 63
#: The largest position a token may resume after: sequences and revisions are int64.
MAX_POSITION = 2**63 - 1


@dataclass(frozen=True)
class ListScope:
    """The index (None: all records of the kind) and entry values a list is read from.

    ``exact`` says the index holds precisely the records the request's filters select, so
    its counter is the list's total. A scope set by a kind-specific step is exact with
    respect to its own filter and the request's ``org``; ListPage still checks (and, for
    the total, counts) any other generic filter per record.
    """

    index: str | None = None
    values: tuple[str, ...] = ()
    exact: bool = True
    #: The index serving the same list within one org, on ``(org, *values)``: what a list
    #: without an org is read from, org by org, for a caller who may read only some orgs.
    per_org: str | None = None


@dataclass(frozen=True)
class Filters:
    """The generic filters of a list request, read from whichever of these fields it has:
    ``org``, ``tags`` (all of), ``label_selector``, ``owner_scope`` (0: any)."""

    org: str = ""
    tags: tuple[str, ...] = ()
    labels: tuple[selectors.Requirement, ...] = ()
    owner_scope: int = 0

    @classmethod
    def of(cls, request: Any) -> Filters:
        return cls(
            org=getattr(request, "org", ""),
            tags=tuple(sorted(set(getattr(request, "tags", ())))),
            labels=selectors.parse(getattr(request, "label_selector", "")),
            owner_scope=int(getattr(request, "owner_scope", 0)),
        )

    @property
    def count(self) -> int:
        return bool(self.org) + len(self.tags) + len(self.labels) + bool(self.owner_scope)

    @property
    def beyond_org(self) -> bool:
        return bool(self.tags or self.labels or self.owner_scope)

    @functools.cached_property
    def _tag_set(self) -> frozenset[str]:
        """The tags as a set: both sides can hold thousands, so membership must not be n x m."""
        return frozenset(self.tags)

    def matches(self, record: Any) -> bool:
        meta = record.metadata
        return (
            (not self.org or meta.org == self.org)
            and (not self.owner_scope or meta.owner_scope == self.owner_scope)
            and (not self.tags or self._tag_set.issubset(meta.tags))
            and selectors.matches(self.labels, meta.labels)
        )

    def key(self) -> tuple[object, ...]:
        """A stable description for page-token fingerprints."""
        return (self.org, self.tags, tuple(str(r) for r in self.labels), self.owner_scope)


def newest_first(order_by: str, default: bool = True, field_name: str = "order_by") -> bool:
    """AIP-132 style creation-time ordering: '' (default), 'create_time [asc|desc]'."""
    words = order_by.lower().split()
    if not words:
        return default
    if words[0] in ("create_time", "created_at") and len(words) <= 2:
        direction = words[1] if len(words) == 2 else "asc"
        if direction in ("asc", "desc"):
            return direction == "desc"
    raise InvalidArgument.for_field(
        field_name,
        f"cannot order by {quote(order_by)}: use 'create_time desc' (newest first) or 'create_time asc'",
        "order_by.unsupported",
    )


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


@dataclass(frozen=True)
class PageRequest:
    """Which page a list request asks for, when a step other than ListPage reads the paging
    fields (PageByNumber): ``size`` entries (already clamped), after the entry ``token``
    names, or else after skipping the first ``skip`` matches."""

    size: int = DEFAULT_PAGE_SIZE
    token: str = ""
    skip: int = 0


def clamp_page_size(requested: int) -> int:
    """0 (unset) means the default; anything above the maximum is clamped to it."""
    if requested <= 0:
        return DEFAULT_PAGE_SIZE
    return min(requested, MAX_PAGE_SIZE)


T = TypeVar("T")


def fill_page(
    sized: Iterable[tuple[T, int]], *, page_size: int, max_bytes: int, reserved: int = 0
) -> tuple[list[T], bool]:
    """Take ``(entry, serialized size)`` pairs until ``page_size`` entries are taken or the
    next one would take the response past ``max_bytes``; returns the page and whether an
    entry was left over (the caller then issues a token after ``page[-1]``).

    The response's own fields and ``reserved`` bytes (e.g. the session a resume also
    returns) count against the budget; the first entry is always taken, even alone over
    budget, so paging always progresses. At most one entry past the page is read, to know
    whether there is more. The sizes should be the stored bytes the scan read anyway: the
    response carries exactly those bytes, and measuring them costs nothing.
    """
    page: list[T] = []
    used = RESPONSE_OVERHEAD_BYTES + reserved
    for entry, size in sized:
        used += size + ENTRY_OVERHEAD_BYTES
        if len(page) == page_size or (page and used > max_bytes):
            return page, True
        page.append(entry)
    return page, False


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
    well_formed = 0 < len(last_id) <= MAX_TOKEN_ID_BYTES and last_id.isascii() and last_id.isprintable()
    if len(raw) <= 1 + _FINGERPRINT_BYTES or raw[0] != _TOKEN_VERSION or not well_formed:
        raise InvalidArgument.for_field(field_name, "is not a valid page token", "page_token.invalid")
    if raw[1 : 1 + _FINGERPRINT_BYTES] != query:
        raise InvalidArgument.for_field(
            field_name,
            "was issued for a different query; repeat the filters of the request that returned it",
            "page_token.query_mismatch",
        )
    return last_id


def decode_position(token: str, query: bytes, field_name: str = "page_token") -> int:
    """:func:`decode_token` for tokens that resume after a number (a sequence, a revision)."""
    last = decode_token(token, query, field_name)
    if not last.isdigit() or int(last) > MAX_POSITION:  # a forged token must not reach key packing
        raise InvalidArgument.for_field(field_name, "is not a valid page token", "page_token.invalid")
    return int(last)
