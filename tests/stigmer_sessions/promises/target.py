"""The adapter between the promise suite and the code under test: one ``Target`` per kind.

The checks (``checks.py``) and the table (``cases.py``) only talk to a :class:`Target`: run
an operation, read the kind's records, children and change log (or another kind's, for what
an operation does to its dependents), snapshot the store, and swap an operation's pipeline.
A target runs one kind of a controller's :class:`~pipeline.service.Resources`; a new kind is
a new factory in :data:`FACTORIES` plus rows in ``cases.py``. A *variant* (``kind+variant``)
is the same kind served with a deployment flag that changes what its operations run (today
``session+integrity`` and ``agent_instance+integrity``: ``--require-agent-instance``).

Setup (seeding records, moving them on between a first try and its retry) always runs the
*pristine* pipelines, never the ones under test: the step-removal proof replaces a pipeline
in :attr:`Target.operations`, and a broken create must not break every setup.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import MutableMapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

from google.protobuf.message import Message

from pipeline import events
from pipeline.keys import RESPONSE
from pipeline.lifecycle import Lifecycle
from pipeline.pipeline import Pipeline, step_name
from pipeline.resource import SLUG_INDEX, ResourceKind
from pipeline.service import Resources
from pipeline.storage import Storage
from pipeline.storage.lmdb import LmdbStorage
from stigmer_sessions import SessionController
from stigmer_sessions.api import SessionMessage
from stigmer_sessions.config import SessionConfig

OPERATIONS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "operations.md"

#: The per-org quota every target enforces (each check stays well below it, except the
#: quota check, which fills the org up to it).
QUOTA = 5
#: The per-creator quota within an org (setup seeds as a different creator each time).
OWNER_QUOTA = 3
#: Small size limits, so "too large" requests are cheap to build.
SMALL_BYTES = 1024
#: At most this many messages in one batch (appendMessages), and 8 KiB of them in total.
SMALL_BATCH = 5
#: The serve flag a variant stands for (docs/operations.md's "With `FLAG`:" lines).
VARIANT_FLAGS = {"integrity": "--require-agent-instance"}
#: Child records by kind (a session's messages), to decode them.
CHILD_TYPES: dict[str, type[Message]] = {"session": SessionMessage}


class Target:
    """One kind's operations on one store, as the promise checks see them."""

    def __init__(
        self,
        name: str,
        subject: Resources,
        setup: Resources,
        config: SessionConfig,
        *,
        quota: int | None,
        owner_quota: int | None,
        closing: ExitStack,
    ) -> None:
        #: What the cases call it: the kind's name, or ``kind+variant``.
        self.name = name
        kind_name, _, self.variant = name.partition("+")
        self.kind: ResourceKind[Any] = subject.kinds[kind_name].kind
        #: Operation name -> the pipeline run for it; replace an entry to test a variant.
        self.operations: MutableMapping[str, Pipeline[Any]] = subject.kinds[kind_name].pipelines
        #: The deployment's choices the target was built with.
        self.config = config
        #: The kind's lifecycle (its initial phase, legal moves), if it has one.
        self.lifecycle: Lifecycle | None = config.lifecycle if self.kind.phase_field else None
        #: How many records of the kind one org may hold (None: unlimited).
        self.quota = quota
        #: How many records of the kind one creator may hold in an org (None: unlimited).
        self.owner_quota = owner_quota
        self._subject = subject
        self._setup = setup
        self._closing = closing

    @property
    def store(self) -> Storage:
        return self._subject.store

    def _kind(self, kind: str | None) -> ResourceKind[Any]:
        return self.kind if kind is None else self._setup.kinds[kind].kind

    # --- running ---------------------------------------------------------------------------

    def run(self, op: str, request: Message, **options: Any) -> Any:
        """Run ``op`` as a client would (through the pipelines in :attr:`operations`) and
        return its response. ``options``: actor, request_id, expected_version, dry_run,
        caused_by, cascade, now_ns. Raises the operation's ``pipeline.errors.ResourceError``."""
        return self._subject.run(self.kind.name, op, request, **options)[RESPONSE]

    def seed(self, op: str, request: Message, *, kind: str | None = None, **options: Any) -> Any:
        """Run ``op`` of ``kind`` (default: the target's) with its pristine pipeline (setup,
        never the code under test)."""
        return self._setup.run(self._kind(kind).name, op, request, **options)[RESPONSE]

    def touch(self, record_id: str) -> None:
        """Someone else's write to the record, if it still exists: it gains a label (through
        the pristine update), so its stored state and version move on."""
        record = self.record(record_id)
        if record is None:
            return
        record.metadata.labels["touched-by"] = "another-client"
        self.seed("update", record, actor="another-client")

    # --- reading ---------------------------------------------------------------------------

    def record(self, record_id: str, *, kind: str | None = None) -> Any:
        """The stored record ``record_id`` of ``kind`` (default: the target's), or None."""
        of = self._kind(kind)
        return self.store.read(lambda tx: tx.records(of).get(record_id))

    def records(self, *, kind: str | None = None) -> list[Any]:
        """Every stored record of ``kind`` (default: the target's), in id (creation) order."""
        of = self._kind(kind)
        return self.store.read(lambda tx: [r for r, _ in tx.records(of).scan_sized()])

    def find(self, org: str, slug: str, *, kind: str | None = None) -> Any:
        """The stored record of ``kind`` (default: the target's) with ``slug`` in ``org``, or None."""
        of = self._kind(kind)

        def lookup(tx: Any) -> Any:
            records = tx.records(of)
            holder = records.find_unique(SLUG_INDEX, (org, slug))
            return None if holder is None else records.get(holder)

        return self.store.read(lookup)

    def children(self, parent_id: str, *, kind: str | None = None) -> list[Any]:
        """The child records stored under ``parent_id`` (a session's messages), in order."""
        of = self._kind(kind)
        child_type = CHILD_TYPES.get(of.name)
        if child_type is None:
            return []
        rows = self.store.read(lambda tx: list(tx.children.scan(of.name, parent_id)))
        return [child_type.FromString(data) for _, data in rows]

    def changes(self, *, kind: str | None = None) -> list[Any]:
        """The change log of ``kind`` (default: the target's), oldest first, as its change
        messages."""
        of = self._kind(kind)
        event_type = of.event_type
        assert event_type is not None, f"{of.name} records no changes"
        return self.store.read(lambda tx: list(events.scan(tx, event_type, kind=of.name)))

    def other_kinds(self) -> list[str]:
        """The other kinds served on the target's store."""
        return [name for name in self._setup.kinds if name != self.kind.name]

    def changes_count(self) -> int:
        return len(self.changes())

    def changed_resource(self, change: Any) -> Any:
        """The resource a change carries (the state after it; before it, for a delete)."""
        return getattr(change, self.kind.event_resource_field)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (records of every kind, indexes, counters, children,
        remembered requests, the change log): equal before and after means nothing was
        written."""
        return self.store.snapshot()

    # --- what the code says about itself ---------------------------------------------------

    def steps(self, op: str) -> list[str]:
        """The step names ``op``'s pipeline runs (from :attr:`operations`)."""
        return [step_name(s) for s in self.operations[op].steps]

    def documented_steps(self, op: str) -> list[str]:
        """The step list docs/operations.md gives for ``op`` of this kind: the first
        ``A → B`` line under its heading, or for a variant its "With `FLAG`:" line when there
        is one (the page gives one only where the flag changes the steps)."""
        page = OPERATIONS_PAGE.read_text()
        section = page.split(f"(`{self.kind.name}`)\n", 1)[1].split("\n## ", 1)[0]
        entry = section.split(f"### `{op}` (", 1)[1].split("\n### ", 1)[0]
        if self.variant:
            flag = re.escape(VARIANT_FLAGS[self.variant])
            for span in re.findall(rf"^With `{flag}`: `([^`]*→[^`]*)`$", entry, flags=re.M):
                return [name.strip() for name in span.split("→")]
        for span in re.findall(r"^`([^`]*→[^`]*)`$", entry, flags=re.M):
            return [name.strip() for name in span.split("→")]
        raise AssertionError(f"docs/operations.md documents no step list for {self.kind.name} {op}")

    def close(self) -> None:
        self._closing.close()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def signature(pipeline: Pipeline[Any]) -> tuple[tuple[Any, ...], ...]:
    """What ``pipeline`` runs, as far as a deployment flag can change it: each step's name
    and its plain settings (bools, numbers, strings; not the validator, hub or store a
    controller hands it). Two operations with equal signatures do the same thing."""

    def settings(step: Any) -> tuple[tuple[str, Any], ...]:
        if not dataclasses.is_dataclass(step):
            return ()
        found = []
        for f in dataclasses.fields(step):
            value = getattr(step, f.name)
            if value is None or isinstance(value, (bool, int, float, str)):
                found.append((f.name, value))
        return tuple(found)

    return tuple((step_name(s), settings(s)) for s in pipeline.steps)


class Factory(Protocol):
    def __call__(
        self,
        where: Path | None = None,
        *,
        quota: int | None = QUOTA,
        owner_quota: int | None = OWNER_QUOTA,
        store: Storage | None = None,
    ) -> Target: ...


def _factory(name: str, *, require_agent_instance: bool = False) -> Factory:
    def make(
        where: Path | None = None,
        *,
        quota: int | None = QUOTA,
        owner_quota: int | None = OWNER_QUOTA,
        store: Storage | None = None,
    ) -> Target:
        """Kind ``name`` on ``store`` (not closed by the target), or on a fresh LMDB store in
        directory ``where`` (closed with the target): at most ``quota`` sessions per org and
        ``owner_quota`` per creator in an org, small size limits (:data:`SMALL_BYTES`)."""
        closing = ExitStack()
        if store is None:
            assert where is not None, "give a directory or a store"
            store = closing.enter_context(LmdbStorage(where / "db", durable=False))
        config = SessionConfig(
            max_sessions_per_org=quota,
            max_sessions_per_owner=owner_quota,
            max_annotations_bytes=SMALL_BYTES,
            max_spec_metadata_bytes=SMALL_BYTES,
            max_session_bytes=16 * SMALL_BYTES,
            max_message_metadata_bytes=SMALL_BYTES,
            max_message_bytes=4 * SMALL_BYTES,
            max_batch_messages=SMALL_BATCH,
            max_batch_bytes=8 * SMALL_BYTES,
            require_agent_instance=require_agent_instance,
        )
        # Two controllers on one store: one whose pipelines are under test, one for setup.
        subject = SessionController(store=store, config=config)
        setup = SessionController(store=store, config=config)
        closing.callback(setup.close)
        closing.callback(subject.close)
        kind = name.partition("+")[0]
        quotas = kind == "session"
        return Target(
            name,
            subject.resources,
            setup.resources,
            config,
            quota=quota if quotas else None,
            owner_quota=owner_quota if quotas else None,
            closing=closing,
        )

    return make


#: Kind name (or ``kind+variant``) -> how to build its target. Only sessions have quotas.
FACTORIES: dict[str, Factory] = {
    "session": _factory("session"),
    "agent_instance": _factory("agent_instance"),
    "session+integrity": _factory("session+integrity", require_agent_instance=True),
    "agent_instance+integrity": _factory("agent_instance+integrity", require_agent_instance=True),
}


def make_target(
    kind: str,
    where: Path | None = None,
    *,
    quota: int | None = QUOTA,
    owner_quota: int | None = OWNER_QUOTA,
    store: Storage | None = None,
) -> Target:
    """A fresh target of ``kind`` (a key of :data:`FACTORIES`; see its factories for the
    arguments)."""
    return FACTORIES[kind](where, quota=quota, owner_quota=owner_quota, store=store)


def without_step(pipeline: Pipeline[Any], index: int) -> Pipeline[Any]:
    """``pipeline`` with its ``index``-th step left out (same name, same transaction kind)."""
    return pipeline.without(index)
