import logging
from dataclasses import dataclass
from typing import Any

import pytest

from pipeline.context import Key, RequestContext
from pipeline.errors import NotFound
from pipeline.pipeline import Pipeline
from pipeline.storage import Storage
from stigmer_sessions.api import SessionId
from stigmer_sessions.resource import SESSION

SEEN: Key[list[str]] = Key("seen")


@dataclass(frozen=True)
class Record:
    label: str

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx[SEEN] = [*ctx.get(SEEN, []), self.label]


@dataclass(frozen=True)
class WriteKey:
    key: str

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx.tx.counters.add(("test", self.key), 1)


def written(storage: Storage, key: str) -> bool:
    """Whether a WriteKey(key) committed (adding 0 reads a counter through any backend)."""
    return storage.write(lambda tx: tx.counters.add(("test", key), 0)) > 0


@dataclass(frozen=True)
class Fail:
    def __call__(self, ctx: RequestContext[Any]) -> None:
        raise NotFound("nope")


def test_steps_run_in_order_and_are_timed(store: Storage) -> None:
    p: Pipeline[SessionId] = Pipeline("t", [Record("a"), Record("b")], write=False)
    ctx = p.execute(store, SessionId(value="x"), kind=SESSION)
    assert ctx[SEEN] == ["a", "b"]
    assert [name for name, _ in ctx.timings] == ["Record", "Record"]
    assert all(ns >= 0 for _, ns in ctx.timings)


def test_first_error_stops_and_aborts_the_write(store: Storage) -> None:
    p: Pipeline[SessionId] = Pipeline("t", [WriteKey("k"), Fail(), WriteKey("other")], write=True)
    with pytest.raises(NotFound):
        p.execute(store, SessionId(value="x"), kind=SESSION)
    assert not written(store, "k")
    assert not written(store, "other")


def test_command_pipeline_commits(store: Storage) -> None:
    Pipeline[SessionId]("t", [WriteKey("k")], write=True).execute(store, SessionId(value="x"), kind=SESSION)
    assert written(store, "k")


def test_steps_are_logged_at_debug_with_pipeline_and_step(
    store: Storage, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG, logger="pipeline"):
        Pipeline[SessionId]("demo", [Record("a")], write=False).execute(
            store, SessionId(value="x"), kind=SESSION
        )
    assert any("pipeline=demo step=Record" in r.getMessage() for r in caplog.records)


def test_repr_lists_the_steps() -> None:
    assert repr(Pipeline("demo", [Record("a"), Fail()], write=False)) == "Pipeline(demo: Record -> Fail)"


@dataclass(frozen=True)
class Finish:
    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx.finish()


def test_finish_ends_the_pipeline_successfully_and_commits(store: Storage) -> None:
    p = Pipeline[SessionId]("t", [WriteKey("k"), Finish(), Fail()], write=True)
    ctx = p.execute(store, SessionId(value="x"), kind=SESSION)
    assert [name for name, _ in ctx.timings] == ["WriteKey", "Finish"]
    assert written(store, "k")


def test_dry_run_runs_every_step_then_aborts(store: Storage) -> None:
    p = Pipeline[SessionId]("t", [WriteKey("k"), Record("after")], write=True)
    ctx = p.execute(store, SessionId(value="x"), kind=SESSION, dry_run=True)
    assert ctx[SEEN] == ["after"]
    assert not written(store, "k")


def test_dry_run_reports_errors_like_a_real_run(store: Storage) -> None:
    p = Pipeline[SessionId]("t", [WriteKey("k"), Fail()], write=True)
    with pytest.raises(NotFound):
        p.execute(store, SessionId(value="x"), kind=SESSION, dry_run=True)


def test_context_knows_its_operation(store: Storage) -> None:
    ctx = Pipeline[SessionId]("demo.op", [], write=False).execute(store, SessionId(value="x"), kind=SESSION)
    assert ctx.operation == "demo.op"
