import pytest

from pipeline.errors import AlreadyExists
from pipeline.keys import EXISTING, RESPONSE, SLUG, UNCHANGED
from pipeline.pipeline import Pipeline
from pipeline.steps import BuildNewState, Persist
from pipeline.storage import Storage
from stigmer_sessions import Session, SessionController
from stigmer_sessions.resource import SESSION
from tests.conftest import RunStep, make_session


def test_persists_new_state(run_step: RunStep, controller: SessionController) -> None:
    built = run_step(BuildNewState(), make_session("a"), values={SLUG: "a"}, write=False).new_state
    # new_state starts as a copy of the input, so the built state is the request here.
    ctx = run_step(Persist(), built)
    assert ctx[RESPONSE] == built
    assert controller.get(built.metadata.id) == built
    assert controller.get_by_reference(org="acme", slug="a") == built


def test_unchanged_writes_nothing(run_step: RunStep, controller: SessionController, store: Storage) -> None:
    existing = controller.create(make_session("a"))
    changed = make_session("different")
    changed.metadata.id = existing.metadata.id
    before = store.snapshot()
    ctx = run_step(Persist(), changed, values={EXISTING: existing, UNCHANGED: True})
    assert ctx[RESPONSE] == changed
    assert controller.get(existing.metadata.id) == existing
    assert store.snapshot() == before


def test_unique_slug_is_guaranteed_even_without_check_duplicate(
    store: Storage, controller: SessionController
) -> None:
    controller.create(make_session("a"))
    p = Pipeline[Session]("no-check", [BuildNewState(), Persist()], write=True)
    before = store.snapshot()
    with pytest.raises(AlreadyExists):
        p.execute(store, make_session("a"), kind=SESSION, values={SLUG: "a"})
    assert store.snapshot() == before
