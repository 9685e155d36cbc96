"""Races: LMDB serialises write transactions, and each pipeline checks and writes in one."""

from collections import Counter

from pipeline.errors import AlreadyExists
from stigmer_sessions import SessionController
from tests.conftest import make_session, race

THREADS = 16


def test_racing_creates_of_one_name_yield_one_success(controller: SessionController) -> None:
    results = race(THREADS, lambda i: controller.create(make_session("Same Name"), actor=f"u{i}"))
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"Session": 1, "AlreadyExists": THREADS - 1}
    assert all(isinstance(r, AlreadyExists) for r in results if type(r).__name__ != "Session")
    assert controller.list().total_size == 1


def test_racing_applies_of_one_name_create_once(controller: SessionController) -> None:
    results = race(THREADS, lambda i: controller.apply(make_session("Applied", subject=f"s{i}")))
    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.metadata.id for r in results}) == 1
    assert controller.list().total_size == 1


def test_parallel_creates_of_distinct_names_all_land(controller: SessionController) -> None:
    results = race(THREADS, lambda i: controller.create(make_session(f"n{i}", tags=("t",))))
    assert not [r for r in results if isinstance(r, Exception)]
    assert controller.list(tags=["t"]).total_size == THREADS
