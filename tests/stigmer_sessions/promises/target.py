"""The adapter between the promise suite and the code under test: one ``Target`` per kind.

The checks (``checks.py``) and the table (``cases.py``) only talk to a :class:`Target`: run
an operation, read the kind's records, children and change log, snapshot the store, and
swap an operation's pipeline. Today a target wraps ``SessionController``; when operations
move to a generic per-kind service, only this module changes, and a new kind is a new
factory in :data:`FACTORIES` plus rows in ``cases.py``.

Setup (seeding records, moving them on between a first try and its retry) always runs the
kind's *pristine* pipelines, never the ones under test: the step-removal proof replaces a
pipeline in :attr:`Target.operations`, and a broken create must not break every setup.
"""

from __future__ import annotations

import re
from collections.abc import MutableMapping
from contextlib import ExitStack
from pathlib import Path
from typing import Any, Protocol

from google.protobuf.message import Message

from pipeline import events
from pipeline.context import RequestContext
from pipeline.keys import RESPONSE
from pipeline.lifecycle import Lifecycle
from pipeline.pipeline import Pipeline, step_name
from pipeline.resource import SLUG_INDEX, ResourceKind
from pipeline.storage import Storage
from pipeline.storage.lmdb import LmdbStorage
from stigmer_sessions import SessionController
from stigmer_sessions.api import SessionMessage
from stigmer_sessions.config import SessionConfig
from stigmer_sessions.resource import SESSION

OPERATIONS_PAGE = Path(__file__).resolve().parents[3] / "docs" / "operations.md"

#: The per-org quota every target enforces (each check stays well below it, except the
#: quota check, which fills the org up to it).
QUOTA = 5
#: The per-creator quota within an org (setup seeds as a different creator each time).
OWNER_QUOTA = 3
#: Small size limits, so "too large" requests are cheap to build.
SMALL_BYTES = 1024


class Runner(Protocol):
    """What runs a kind's operations by name (today a ``SessionController``)."""

    @property
    def store(self) -> Storage: ...

    def run(
        self,
        operation: str,
        request: Message,
        *,
        actor: str = ...,
        request_id: str = ...,
        expected_version: str = ...,
        dry_run: bool = ...,
        now_ns: int | None = ...,
        caused_by: str = ...,
    ) -> RequestContext[Any]: ...


class Target:
    """One kind's operations on one store, as the promise checks see them."""

    def __init__(
        self,
        kind: ResourceKind[Any],
        operations: MutableMapping[str, Pipeline[Any]],
        subject: Runner,
        setup: Runner,
        *,
        lifecycle: Lifecycle | None,
        quota: int | None,
        owner_quota: int | None,
        children_type: type[Message] | None,
        closing: ExitStack,
    ) -> None:
        self.kind = kind
        #: Operation name -> the pipeline run for it; replace an entry to test a variant.
        self.operations = operations
        #: The kind's lifecycle (its initial phase, legal moves), if it has one.
        self.lifecycle = lifecycle
        #: How many records of the kind one org may hold (None: unlimited).
        self.quota = quota
        #: How many records of the kind one creator may hold in an org (None: unlimited).
        self.owner_quota = owner_quota
        self._subject = subject
        self._setup = setup
        self._children_type = children_type
        self._closing = closing

    @property
    def store(self) -> Storage:
        return self._subject.store

    # --- running ---------------------------------------------------------------------------

    def run(self, op: str, request: Message, **options: Any) -> Any:
        """Run ``op`` as a client would (through the pipelines in :attr:`operations`) and
        return its response. ``options``: actor, request_id, expected_version, dry_run,
        caused_by, now_ns. Raises the operation's ``pipeline.errors.ResourceError``."""
        return self._subject.run(op, request, **options)[RESPONSE]

    def seed(self, op: str, request: Message, **options: Any) -> Any:
        """Run ``op`` with the kind's pristine pipeline (setup, never the code under test)."""
        return self._setup.run(op, request, **options)[RESPONSE]

    def touch(self, record_id: str) -> None:
        """Someone else's write to the record, if it still exists: it gains a label (through
        the pristine update), so its stored state and version move on."""
        record = self.record(record_id)
        if record is None:
            return
        record.metadata.labels["touched-by"] = "another-client"
        self.seed("update", record, actor="another-client")

    # --- reading ---------------------------------------------------------------------------

    def record(self, record_id: str) -> Any:
        """The stored record ``record_id`` of the kind, or None."""
        return self.store.read(lambda tx: tx.records(self.kind).get(record_id))

    def records(self) -> list[Any]:
        """Every stored record of the kind, in id (creation) order."""
        return self.store.read(lambda tx: [r for r, _ in tx.records(self.kind).scan_sized()])

    def find(self, org: str, slug: str) -> Any:
        """The stored record with ``slug`` in ``org``, or None."""

        def lookup(tx: Any) -> Any:
            records = tx.records(self.kind)
            holder = records.find_unique(SLUG_INDEX, (org, slug))
            return None if holder is None else records.get(holder)

        return self.store.read(lookup)

    def children(self, parent_id: str) -> list[Any]:
        """The child records stored under ``parent_id`` (a session's messages), in order."""
        child_type = self._children_type
        if child_type is None:
            return []
        rows = self.store.read(lambda tx: list(tx.children.scan(self.kind.name, parent_id)))
        return [child_type.FromString(data) for _, data in rows]

    def changes(self) -> list[Any]:
        """The kind's change log, oldest first, as its change messages."""
        event_type = self.kind.event_type
        assert event_type is not None, f"{self.kind.name} records no changes"
        return self.store.read(lambda tx: list(events.scan(tx, event_type, kind=self.kind.name)))

    def changes_count(self) -> int:
        return len(self.changes())

    def changed_resource(self, change: Any) -> Any:
        """The resource a change carries (the state after it; before it, for a delete)."""
        return getattr(change, self.kind.event_resource_field)

    def snapshot(self) -> dict[str, list[tuple[Any, ...]]]:
        """Every row of every table (records, indexes, counters, children, remembered
        requests, the change log): equal before and after means nothing was written."""
        return self.store.snapshot()

    # --- what the code says about itself ---------------------------------------------------

    def steps(self, op: str) -> list[str]:
        """The step names ``op``'s pipeline runs (from :attr:`operations`)."""
        return [step_name(s) for s in self.operations[op].steps]

    def documented_steps(self, op: str) -> list[str]:
        """The step list docs/operations.md gives for ``op`` of this kind (the first
        ``A → B`` line under its heading)."""
        page = OPERATIONS_PAGE.read_text()
        section = page.split(f"(`{self.kind.name}`)\n", 1)[1].split("\n## ", 1)[0]
        entry = section.split(f"### `{op}` (", 1)[1].split("\n### ", 1)[0]
        for span in re.findall(r"^`([^`]*→[^`]*)`$", entry, flags=re.M):
            return [name.strip() for name in span.split("→")]
        raise AssertionError(f"docs/operations.md documents no step list for {self.kind.name} {op}")

    def close(self) -> None:
        self._closing.close()

    def __enter__(self) -> Target:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Factory(Protocol):
    def __call__(
        self,
        where: Path | None = None,
        *,
        quota: int | None = QUOTA,
        owner_quota: int | None = OWNER_QUOTA,
        store: Storage | None = None,
    ) -> Target: ...


def make_session_target(
    where: Path | None = None,
    *,
    quota: int | None = QUOTA,
    owner_quota: int | None = OWNER_QUOTA,
    store: Storage | None = None,
) -> Target:
    """The Session kind on ``store`` (not closed by the target), or on a fresh LMDB store in
    directory ``where`` (closed with the target): at most ``quota`` sessions per org and
    ``owner_quota`` per creator in an org, and small size limits (:data:`SMALL_BYTES`)."""
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
    )
    # Two controllers on one store: one whose pipelines are under test, one for setup.
    subject = SessionController(store=store, config=config)
    setup = SessionController(store=store, config=config)
    closing.callback(setup.close)
    closing.callback(subject.close)
    return Target(
        SESSION,
        subject.pipelines,
        subject,
        setup,
        lifecycle=config.lifecycle,
        quota=quota,
        owner_quota=owner_quota,
        children_type=SessionMessage,
        closing=closing,
    )


#: Kind name -> how to build its target.
FACTORIES: dict[str, Factory] = {"session": make_session_target}


def make_target(
    kind: str,
    where: Path | None = None,
    *,
    quota: int | None = QUOTA,
    owner_quota: int | None = OWNER_QUOTA,
    store: Storage | None = None,
) -> Target:
    """A fresh target of ``kind`` (see :func:`make_session_target` for the arguments)."""
    return FACTORIES[kind](where, quota=quota, owner_quota=owner_quota, store=store)


def without_step(pipeline: Pipeline[Any], index: int) -> Pipeline[Any]:
    """``pipeline`` with its ``index``-th step left out (same name, same transaction kind)."""
    steps = pipeline.steps[:index] + pipeline.steps[index + 1 :]
    return Pipeline(pipeline.name, steps, write=pipeline.write)
