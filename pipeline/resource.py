"""Describing a resource kind to the generic pipeline: its message type, id prefix, indexes.

The steps are written against the Stigmer API-resource shape every kind shares: a message
with ``api_version``, ``kind``, ``metadata`` (``ApiResourceMetadata``: id, name, slug, org,
owner_scope, labels, annotations, tags, version), ``spec`` and ``status.audit``. Nothing here
knows about sessions; a new kind is one :class:`ResourceKind` value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

from pipeline.keycodec import pack

M = TypeVar("M", bound=Message)

IndexValues = Callable[[Any], Iterable[tuple[str, ...]]]


@dataclass(frozen=True)
class Index:
    """A secondary index: ``values(record)`` yields one tuple per entry (none: not indexed).

    A unique index maps each tuple to one id, and is how uniqueness is enforced; a plain
    index keeps one entry per (tuple, id), in id (creation) order, plus a counter per tuple
    so list totals cost O(1).
    """

    name: str
    values: IndexValues
    unique: bool = False


def _org_slug(m: Any) -> Iterable[tuple[str, ...]]:
    return [(m.metadata.org, m.metadata.slug)]


def _org(m: Any) -> Iterable[tuple[str, ...]]:
    return [(m.metadata.org,)]


def _tags(m: Any) -> Iterable[tuple[str, ...]]:
    return [(t,) for t in set(m.metadata.tags)]


def _org_tags(m: Any) -> Iterable[tuple[str, ...]]:
    return [(m.metadata.org, t) for t in set(m.metadata.tags)]


def _labels(m: Any) -> Iterable[tuple[str, ...]]:
    return list(m.metadata.labels.items())


def _org_owner(m: Any) -> Iterable[tuple[str, ...]]:
    return [(m.metadata.org, m.status.audit.spec_audit.created_by.id)]


def owner_index() -> Index:
    """(org, creator): what per-owner quotas count. Opt-in: it costs an entry per record."""
    return Index(ORG_OWNER_INDEX, _org_owner)


SLUG_INDEX = "slug"
ORG_INDEX = "org"
TAG_INDEX = "tag"
ORG_TAG_INDEX = "org_tag"
LABEL_INDEX = "label"
ORG_OWNER_INDEX = "org_owner"


def metadata_indexes() -> tuple[Index, ...]:
    """The indexes every Stigmer resource kind wants: slug unique per org; org; tag; org+tag;
    label (key, value), which serves ``key=value`` selectors."""
    return (
        Index(SLUG_INDEX, _org_slug, unique=True),
        Index(ORG_INDEX, _org),
        Index(TAG_INDEX, _tags),
        Index(ORG_TAG_INDEX, _org_tags),
        Index(LABEL_INDEX, _labels),
    )


@dataclass(frozen=True)
class ResourceKind(Generic[M]):
    """Everything the generic steps need to know about one kind of resource."""

    name: str  # storage namespace and the word used in messages, e.g. "session"
    kind: str  # the message's `kind` value, e.g. "Session"
    api_version: str  # e.g. "agentic.stigmer.ai/v1"
    id_prefix: str  # e.g. "ses"
    message_type: type[M]
    indexes: tuple[Index, ...] = field(default_factory=metadata_indexes)
    #: Top-level fields only the server writes: dropped from a create request.
    server_fields: tuple[str, ...] = ("status",)
    #: The change message AppendEvent builds (None: the kind records no changes), and the
    #: name of its field that carries the resource.
    event_type: type[Message] | None = None
    event_resource_field: str = ""
    #: Dotted path of the lifecycle phase field (e.g. "state.phase"); "" when none.
    phase_field: str = ""

    def __post_init__(self) -> None:
        names = [i.name for i in self.indexes]
        if len(names) != len(set(names)):
            raise ValueError(f"duplicate index names in {self.name}: {names}")

    @cached_property
    def key_prefix(self) -> bytes:
        """``pack(name)``: where this kind's records and index entries start."""
        return pack(self.name)

    @cached_property
    def generated_names_prefix(self) -> bytes:
        """Where GenerateName keeps its per-(org, day) counters, among the index counters;
        maintenance must know it too, because those counters are not derived from records."""
        return pack(self.name, "_generated_names")

    @cached_property
    def index_prefixes(self) -> dict[str, bytes]:
        """``pack(name, index)`` per index, computed once (it is on every write's path)."""
        return {index.name: pack(self.name, index.name) for index in self.indexes}
