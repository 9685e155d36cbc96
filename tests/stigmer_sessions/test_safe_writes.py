"""Writes that are safe under concurrency and retries: versions, request ids, dry-run."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import pytest

from pipeline.errors import Aborted, AlreadyExists, InvalidArgument, NotFound
from pipeline.keys import REPLAYED, RESPONSE
from pipeline.storage import Storage
from stigmer_sessions import Session, SessionController, retry_on_conflict
from tests.conftest import make_session, race


def dump(store: Storage) -> dict[str, list[tuple[bytes, bytes]]]:
    """Every key and value of every table: 'nothing written' means this is byte-equal."""
    return store.snapshot()


def edited(session: Session, **spec: Any) -> Session:
    copy = Session()
    copy.CopyFrom(session)
    for name, value in spec.items():
        setattr(copy.spec, name, value)
    return copy


# --- optimistic concurrency ---------------------------------------------------------------


def test_two_updates_of_the_same_version_one_wins(controller: SessionController) -> None:
    base = controller.create(make_session())
    results = race(2, lambda i: controller.update(edited(base, subject=f"client {i}")))
    kinds = Counter(type(r).__name__ for r in results)
    assert kinds == {"Session": 1, "Aborted": 1}
    winner = next(r for r in results if isinstance(r, Session))
    loser = next(r for r in results if isinstance(r, Aborted))
    assert base.metadata.version.id in loser.message
    assert winner.metadata.version.id in loser.message
    assert controller.get(base.metadata.id) == winner


def test_many_writers_with_retry_on_conflict_lose_nothing(controller: SessionController) -> None:
    base = controller.create(make_session())

    def add_label(i: int) -> Session:
        def attempt() -> Session:
            current = controller.get(base.metadata.id)
            current.metadata.labels[f"writer-{i}"] = "done"
            return controller.update(current)

        return retry_on_conflict(attempt, attempts=50, backoff_s=0.001)

    results = race(8, add_label)
    assert not [r for r in results if isinstance(r, Exception)]
    labels = controller.get(base.metadata.id).metadata.labels
    assert sorted(labels) == [f"writer-{i}" for i in range(8)]


def test_delete_with_expected_version(controller: SessionController) -> None:
    s = controller.create(make_session())
    with pytest.raises(Aborted):
        controller.delete(s.metadata.id, expected_version="not-it")
    assert controller.get(s.metadata.id) == s
    assert controller.delete(s.metadata.id, expected_version=s.metadata.version.id) == s


def test_apply_with_stale_version_is_aborted(controller: SessionController) -> None:
    first = controller.apply(make_session("x", subject="1"))
    controller.apply(make_session("x", subject="2"))
    stale = make_session("x", subject="3")
    stale.metadata.version.id = first.metadata.version.id
    with pytest.raises(Aborted):
        controller.apply(stale)


# --- idempotent retries -------------------------------------------------------------------


def test_retried_create_returns_the_same_session_and_stores_one(
    controller: SessionController, store: Storage
) -> None:
    first = controller.create(make_session("Retry me"), request_id="req-1")
    after_first = dump(store)
    again = controller.create(make_session("Retry me"), request_id="req-1")
    assert again == first
    assert dump(store) == after_first
    assert controller.list().total_size == 1


def test_concurrent_retries_of_one_create_store_one(controller: SessionController) -> None:
    results = race(8, lambda i: controller.create(make_session("Once"), request_id="same"))
    assert not [r for r in results if isinstance(r, Exception)]
    assert len({r.metadata.id for r in results}) == 1
    assert controller.list().total_size == 1


def test_same_request_id_different_payload_is_already_exists(controller: SessionController) -> None:
    controller.create(make_session("A"), request_id="req-1")
    with pytest.raises(AlreadyExists, match="'req-1' was already used for a different request"):
        controller.create(make_session("B"), request_id="req-1")
    with pytest.raises(AlreadyExists, match="different request"):
        controller.apply(make_session("A"), request_id="req-1")  # another operation


def test_retried_update_and_delete_replay_instead_of_conflicting(controller: SessionController) -> None:
    s = controller.create(make_session())
    change = edited(s, subject="once")
    updated = controller.update(change, request_id="u1")
    assert controller.update(change, request_id="u1") == updated  # would be ABORTED without the id
    deleted = controller.delete(s.metadata.id, request_id="d1")
    assert controller.delete(s.metadata.id, request_id="d1") == deleted  # would be NOT_FOUND


def test_request_ids_expire(store: Storage) -> None:
    controller = SessionController(store=store, request_id_ttl_s=60)
    t0 = 10**18
    first = controller.run("create", make_session("A"), request_id="r", now_ns=t0)
    replay = controller.run("create", make_session("A"), request_id="r", now_ns=t0 + 59 * 10**9)
    assert replay.get(REPLAYED) is True
    assert replay[RESPONSE] == first[RESPONSE]
    with pytest.raises(AlreadyExists, match="slug"):  # re-executed: the session itself exists
        controller.run("create", make_session("A"), request_id="r", now_ns=t0 + 61 * 10**9)


def test_failed_requests_are_not_remembered(controller: SessionController) -> None:
    controller.create(make_session("taken"))
    with pytest.raises(AlreadyExists):
        controller.create(make_session("taken"), request_id="r")
    controller.delete(controller.get_by_reference(org="acme", slug="taken").metadata.id)
    assert controller.create(make_session("taken"), request_id="r").metadata.slug == "taken"


# --- dry-run ------------------------------------------------------------------------------


def test_dry_run_writes_nothing_for_any_operation(controller: SessionController, store: Storage) -> None:
    existing = controller.create(make_session("existing", tags=("t",)))
    before = dump(store)
    created = controller.create(make_session("new"), dry_run=True, request_id="dry")
    assert created.metadata.id.startswith("ses-")
    assert created.metadata.slug == "new"
    updated = controller.update(edited(existing, subject="changed"), dry_run=True)
    assert updated.spec.subject == "changed"
    assert updated.metadata.version.previous_version_id == existing.metadata.version.id
    assert (
        controller.apply(make_session("existing", subject="applied"), dry_run=True).spec.subject == "applied"
    )
    assert controller.delete(existing.metadata.id, dry_run=True) == existing
    assert dump(store) == before
    assert controller.get(existing.metadata.id) == existing
    # the dry run's request id was not remembered: a real create with it works
    assert controller.create(make_session("new"), request_id="dry").metadata.slug == "new"


def test_dry_run_reports_the_errors_a_real_write_would(controller: SessionController, store: Storage) -> None:
    existing = controller.create(make_session("existing"))
    before = dump(store)
    cases: list[tuple[type[Exception], Any]] = [
        (AlreadyExists, lambda dry: controller.create(make_session("existing"), dry_run=dry)),
        (InvalidArgument, lambda dry: controller.create(make_session(agent=""), dry_run=dry)),
        (Aborted, lambda dry: controller.delete(existing.metadata.id, expected_version="x", dry_run=dry)),
        (NotFound, lambda dry: controller.delete("ses-none", dry_run=dry)),
    ]
    for error, call in cases:
        with pytest.raises(error) as dry:
            call(True)
        with pytest.raises(error) as real:
            call(False)
        assert str(dry.value) == str(real.value)
    assert dump(store) == before


# --- lists under concurrent writes --------------------------------------------------------


def test_page_walk_under_concurrent_inserts_and_deletes(controller: SessionController) -> None:
    original = [controller.create(make_session(f"o{i}", tags=("walk",))) for i in range(60)]
    doomed = {s.metadata.id for s in original[10:50:3]}
    stop = threading.Event()

    def churn() -> None:
        i = 0
        victims = list(doomed)
        while not stop.is_set():
            controller.create(make_session(f"new{i}", tags=("walk",)))
            if victims:
                controller.delete(victims.pop())
            i += 1

    writer = threading.Thread(target=churn)
    writer.start()
    seen: list[str] = []
    token = ""
    try:
        while True:
            page = controller.list(tags=["walk"], page_size=7, page_token=token)
            seen += [s.metadata.id for s in page.entries]
            token = page.next_page_token
            if not token:
                break
    finally:
        stop.set()
        writer.join()
    assert len(seen) == len(set(seen)), "no duplicates"
    survivors = {s.metadata.id for s in original} - doomed
    assert survivors <= set(seen), "every pre-existing session that survived was seen"
