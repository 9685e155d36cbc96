from pipeline.keys import EXISTING, RESPONSE
from pipeline.steps import DeleteResource
from pipeline.storage import Storage
from stigmer_sessions import SessionController
from stigmer_sessions.api import SessionId
from tests.conftest import RunStep, data_tables, make_session


def test_deletes_record_and_every_index_entry(
    run_step: RunStep, controller: SessionController, store: Storage
) -> None:
    created = controller.create(make_session(tags=("a", "b")))
    # the kind as served: with the optional indexes it keeps (every one on a shared store)
    ctx = run_step(DeleteResource(), SessionId(), values={EXISTING: created}, kind=controller.kinds[0])
    assert ctx[RESPONSE] == created
    assert all(rows == [] for rows in data_tables(store).values()), data_tables(store)


def test_other_records_are_untouched(run_step: RunStep, controller: SessionController) -> None:
    keep = controller.create(make_session("keep", tags=("a",)))
    gone = controller.create(make_session("gone", tags=("a",)))
    run_step(DeleteResource(), SessionId(), values={EXISTING: gone})
    assert controller.get(keep.metadata.id) == keep
    page = controller.list(tags=["a"])
    assert [s.metadata.id for s in page.entries] == [keep.metadata.id]
    assert page.total_size == 1
