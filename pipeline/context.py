"""The request context: what one pipeline run knows, and the typed keys steps pass data by.

Steps never talk to each other directly. A step reads what earlier steps put under a
:class:`Key` and writes its own result under another, so each step can be tested alone on a
hand-built context, and a key's type tells mypy what flows between them.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, overload

from google.protobuf.message import Message

from pipeline.errors import Internal
from pipeline.resource import ResourceKind
from pipeline.storage import RecordStore, Tx

T = TypeVar("T")
I = TypeVar("I", bound=Message)  # noqa: E741 - the conventional name of the input type
SYSTEM_ACTOR = "system"


@dataclass(frozen=True, slots=True)
class Key(Generic[T]):
    """A typed slot in the context. Compare by identity of name; define once per module."""

    name: str

    def __repr__(self) -> str:
        return f"Key({self.name})"


_MISSING: Any = object()


class RequestContext(Generic[I]):
    """State of one pipeline run.

    ``input`` is the request as received and is never mutated; ``new_state`` starts as a
    (lazily made) copy of it and is what command steps shape into the state to store.
    ``tx`` is the unit of work (:class:`~pipeline.storage.Tx`) the whole pipeline runs in, and
    ``records`` its store of the kind's records; ``now_ns`` is read once
    so every timestamp written by one request agrees; ``operation`` is the pipeline's name.
    """

    __slots__ = (
        "_marks",
        "_new_state",
        "_step_names",
        "_values",
        "actor",
        "after_commit",
        "finished",
        "input",
        "kind",
        "now_ns",
        "operation",
        "records",
        "tx",
    )

    def __init__(
        self,
        input: I,
        *,
        kind: ResourceKind[Any],
        tx: Tx,
        actor: str = SYSTEM_ACTOR,
        now_ns: int | None = None,
        values: dict[Key[Any], Any] | None = None,
        operation: str = "",
    ) -> None:
        self.input = input
        self.operation = operation
        self.finished = False
        #: Called, in order, once the pipeline's transaction has committed (never on abort or
        #: dry run): for side effects that must only follow durable state, like waking watchers.
        self.after_commit: list[Callable[[], None]] = []
        self.kind = kind
        self.tx = tx
        self.actor = actor or SYSTEM_ACTOR
        self.now_ns = time.time_ns() if now_ns is None else now_ns
        self.records: RecordStore[Any] = tx.records(kind)
        self._step_names: tuple[str, ...] = ()
        self._marks: list[int] = []
        self._values: dict[Key[Any], Any] = dict(values) if values else {}
        self._new_state: Any = None

    def record_timings(self, step_names: tuple[str, ...], marks: list[int]) -> None:
        """Keep the pipeline run's clock marks (one before the first step, one after each
        step that ran); a context runs one pipeline."""
        self._step_names = step_names[: len(marks) - 1]
        self._marks = marks

    @property
    def timings(self) -> list[tuple[str, int]]:
        """(step name, nanoseconds) for every step that ran, in order."""
        marks = self._marks
        return [(name, marks[i + 1] - marks[i]) for i, name in enumerate(self._step_names)]

    def finish(self) -> None:
        """Stop the pipeline after the current step, successfully (e.g. a replayed request
        whose response is already in the context)."""
        self.finished = True

    @property
    def new_state(self) -> Any:
        if self._new_state is None:
            state = type(self.input)()
            state.CopyFrom(self.input)
            self._new_state = state
        return self._new_state

    @new_state.setter
    def new_state(self, value: Any) -> None:
        self._new_state = value

    def __getitem__(self, key: Key[T]) -> T:
        value = self._values.get(key, _MISSING)
        if value is _MISSING:
            # A step ran before the one that provides its input: a wiring bug, not user error.
            raise Internal(f"pipeline context has no {key.name}; check the step order")
        return value  # type: ignore[no-any-return]

    def __setitem__(self, key: Key[T], value: T) -> None:
        self._values[key] = value

    def __contains__(self, key: Key[Any]) -> bool:
        return key in self._values

    @overload
    def get(self, key: Key[T]) -> T | None: ...

    @overload
    def get(self, key: Key[T], default: T) -> T: ...

    def get(self, key: Key[T], default: T | None = None) -> T | None:
        return self._values.get(key, default)
