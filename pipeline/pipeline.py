"""Pipelines: named, ordered steps run against one request context in one transaction.

A command pipeline runs inside ONE store write transaction and a query pipeline inside one
read transaction, so a check and the write that depends on it are atomic, and an error
anywhere aborts everything the pipeline wrote. The first error stops the run. Every step is
timed (``ctx.timings``) and, at DEBUG level, logged with the pipeline and step names.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol

from pipeline.context import I, Key, RequestContext
from pipeline.resource import ResourceKind
from pipeline.storage import Storage, Tx

_log = logging.getLogger("pipeline")


class _DryRunDone(Exception):
    """Carries a dry run's context out of the transaction it aborts."""

    def __init__(self, ctx: RequestContext[Any]) -> None:
        super().__init__("dry run")
        self.ctx = ctx


class Step(Protocol):
    """One unit of work. Reads and writes the context; raises a ResourceError to stop."""

    def __call__(self, ctx: RequestContext[Any], /) -> None: ...


def step_name(step: Step) -> str:
    return type(step).__name__


class Pipeline(Generic[I]):
    """An ordered, named list of steps; ``write`` says which kind of transaction it needs and
    ``doc`` (one sentence) what the operation promises, for the generated operation docs."""

    __slots__ = ("_names", "doc", "name", "steps", "write")

    def __init__(
        self, name: str, steps: list[Step] | tuple[Step, ...], *, write: bool, doc: str = ""
    ) -> None:
        self.name = name
        self.steps = tuple(steps)
        self.write = write
        self.doc = doc
        self._names = tuple(step_name(s) for s in self.steps)

    @property
    def step_names(self) -> tuple[str, ...]:
        return self._names

    def without(self, index: int) -> Pipeline[I]:
        """The same pipeline minus step ``index``: how the step-removal tests prove that
        every step of every operation is needed."""
        steps = self.steps[:index] + self.steps[index + 1 :]
        return Pipeline(self.name, steps, write=self.write, doc=self.doc)

    def run(self, ctx: RequestContext[I]) -> None:
        """Run every step on ``ctx`` in order (inside the caller's transaction).

        The hot path reads the clock once per step boundary and appends it; the per-step
        durations (``ctx.timings``) and the DEBUG log lines are derived from those marks
        afterwards, so timing costs one call and one append per step.
        """
        clock = time.perf_counter_ns
        marks = [clock()]
        mark = marks.append
        try:
            for step in self.steps:
                step(ctx)
                mark(clock())
                if ctx.finished:
                    break
        except BaseException:
            mark(clock())  # the failing step's time counts too
            raise
        finally:
            ctx.record_timings(self._names, marks)
            if _log.isEnabledFor(logging.DEBUG):
                for name, elapsed in ctx.timings:
                    _log.debug("pipeline=%s step=%s duration_us=%.1f", self.name, name, elapsed / 1000)

    def execute(
        self,
        storage: Storage,
        request: I,
        *,
        kind: ResourceKind[Any],
        actor: str = "",
        values: dict[Key[Any], Any] | None = None,
        now_ns: int | None = None,
        dry_run: bool = False,
    ) -> RequestContext[I]:
        """Open the right transaction, build a fresh context in it, run, and return the context.

        The context is rebuilt if the storage re-runs the transaction (e.g. after growing the
        map), so nothing from an aborted attempt leaks into the next one. With ``dry_run``
        every step runs (so every check and error is real) and the write transaction is then
        aborted: the context says what would have been stored, and nothing was.
        """

        def body(tx: Tx) -> RequestContext[I]:
            ctx = RequestContext(
                request, kind=kind, tx=tx, actor=actor, values=values, now_ns=now_ns, operation=self.name
            )
            self.run(ctx)
            if dry_run and self.write:
                raise _DryRunDone(ctx)  # leaving the transaction by an exception aborts it
            return ctx

        runner: Callable[[Callable[[Tx], RequestContext[I]]], RequestContext[I]]
        runner = storage.write if self.write else storage.read
        try:
            ctx: RequestContext[I] = runner(body)
        except _DryRunDone as done:
            return done.ctx
        for callback in ctx.after_commit:
            callback()
        return ctx

    def __repr__(self) -> str:
        return f"Pipeline({self.name}: {' -> '.join(self._names)})"
