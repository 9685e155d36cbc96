"""Describing a resource kind to the generic pipeline: its message type, id prefix, indexes.

The steps are written against the Stigmer API-resource shape every kind shares: a message
with ``api_version``, ``kind``, ``metadata`` (``ApiResourceMetadata``: id, name, slug, org,
owner_scope, labels, annotations, tags, version), ``spec`` and ``status.audit``. Nothing here
knows about sessions; a new kind is one :class:`ResourceKind` value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

from google.protobuf.message import Message

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
    #: The fields ``values`` reads, as dotted paths ("metadata.org"); None: it may read
    #: anything. A write that says which fields it changed (a status-only change: an append,
    #: a pin, a transition) skips every index whose fields it did not touch.
    reads: tuple[str, ...] | None = None

    def reads_any_of(self, changed: frozenset[str] | None) -> bool:
        """Whether a write that changed the fields ``changed`` (None: unknown) may move
        this index's entries: a path read overlaps one changed when either contains the other."""
        if changed is None or self.reads is None:
            return True
        return any(
            r == c or r.startswith(c + ".") or c.startswith(r + ".") for r in self.reads for c in changed
        )


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
    return Index(ORG_OWNER_INDEX, _org_owner, reads=("metadata.org", "status.audit.spec_audit.created_by"))


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
        Index(SLUG_INDEX, _org_slug, unique=True, reads=("metadata.org", "metadata.slug")),
        Index(ORG_INDEX, _org, reads=("metadata.org",)),
        Index(TAG_INDEX, _tags, reads=("metadata.tags",)),
        Index(ORG_TAG_INDEX, _org_tags, reads=("metadata.org", "metadata.tags")),
        Index(LABEL_INDEX, _labels, reads=("metadata.labels",)),
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
    #: The change's field for a child record (e.g. "message"): a change about one child
    #: carries the child there and only a reference to the resource (see ``reference``).
    event_child_field: str = ""
    #: Dotted path of the lifecycle phase field (e.g. "state.phase"); "" when none.
    phase_field: str = ""
    #: Indexes only some deployments need (per-owner quotas, restart recovery): a kind
    #: served with :meth:`with_optional` keeps those too, every write paying for them.
    #: Which a store holds is recorded in it (``pipeline.indexes``).
    optional_indexes: tuple[Index, ...] = ()

    def __post_init__(self) -> None:
        for group in (self.indexes, self.optional_indexes):
            names = [i.name for i in group]
            if len(names) != len(set(names)):
                raise ValueError(f"duplicate index names in {self.name}: {names}")
        optional = {i.name: i for i in self.optional_indexes}
        clash = [i.name for i in self.indexes if i.name in optional and optional[i.name] is not i]
        if clash:
            raise ValueError(f"{self.name}: indexes {clash} are both optional and not")

    @property
    def base(self) -> ResourceKind[M]:
        """This kind with none of its optional indexes kept."""
        optional = {i.name for i in self.optional_indexes}
        return replace(self, indexes=tuple(i for i in self.indexes if i.name not in optional))

    def with_optional(self, names: Iterable[str]) -> ResourceKind[M]:
        """This kind keeping exactly the optional indexes ``names`` (ValueError for a name
        that is not one), in declaration order after the others."""
        wanted = set(names)
        optional = {i.name: i for i in self.optional_indexes}
        unknown = wanted - optional.keys()
        if unknown:
            raise ValueError(f"{self.name} has no optional index {', '.join(sorted(unknown))}")
        kept = tuple(i for i in self.optional_indexes if i.name in wanted)
        return replace(self, indexes=(*self.base.indexes, *kept))

    @property
    def optional_kept(self) -> frozenset[str]:
        """The optional indexes this kind keeps."""
        optional = {i.name for i in self.optional_indexes}
        return frozenset(i.name for i in self.indexes if i.name in optional)


def reference(resource: M) -> M:
    """A copy of ``resource`` holding only what names it: api_version, kind and the metadata
    id, name, slug, org and version. What a change about one of its children carries instead
    of the whole resource, which such a change does not alter beyond its bookkeeping."""
    ref = type(resource)()
    ref.api_version = resource.api_version  # type: ignore[attr-defined]
    ref.kind = resource.kind  # type: ignore[attr-defined]
    meta, src = ref.metadata, resource.metadata  # type: ignore[attr-defined]
    meta.id, meta.name, meta.slug, meta.org = src.id, src.name, src.slug, src.org
    meta.version.CopyFrom(src.version)
    return ref


def index_entries(kind: ResourceKind[Any], record: Any) -> Iterator[tuple[Index, tuple[str, ...]]]:
    """(index, values) of every entry ``record`` has in the indexes of ``kind`` (each once)."""
    for index in kind.indexes:
        for values in set(index.values(record)):
            yield index, values


def index_changes(
    kind: ResourceKind[Any], previous: Any | None, record: Any, changed: frozenset[str] | None = None
) -> Iterator[tuple[Index, set[tuple[str, ...]], set[tuple[str, ...]]]]:
    """(index, entries to remove, entries to add) for every index of ``kind`` whose entries
    differ between ``previous`` (None: a new record) and ``record``. Every backend applies
    exactly this difference, so an update touches only the entries that changed. With
    ``changed`` (the fields the write changed, see :meth:`Index.reads_any_of`) the indexes
    that read none of them are not even computed."""
    for index in kind.indexes:
        if previous is not None and not index.reads_any_of(changed):
            continue
        new = set(index.values(record))
        old = set(index.values(previous)) if previous is not None else set()
        if old != new:
            yield index, old - new, new - old
