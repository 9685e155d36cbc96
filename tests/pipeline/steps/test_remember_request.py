from pipeline.keys import REQUEST_ID, RESPONSE
from pipeline.steps import RememberRequest
from pipeline.storage.lmdb import LmdbStorage
from pipeline.storage.lmdb.engine import Table
from tests.conftest import RunStep, make_session

NOW = 10**18


def test_remembers_response_with_expiry(run_step: RunStep, store: LmdbStorage) -> None:
    request, response = make_session("a"), make_session("answer")
    run_step(RememberRequest(ttl_ns=50), request, values={REQUEST_ID: "r1", RESPONSE: response}, now_ns=NOW)
    entry = store.read(lambda txn: txn.requests.lookup("session", "r1", NOW))
    assert entry is not None
    assert entry.expires_at_ns == NOW + 50
    assert entry.response == response.SerializeToString()
    assert store.read(lambda txn: txn.requests.lookup("session", "r1", NOW + 50)) is None


def test_without_request_id_stores_nothing(run_step: RunStep, store: LmdbStorage) -> None:
    run_step(RememberRequest(), make_session(), values={RESPONSE: make_session()}, now_ns=NOW)
    assert store.stat()[Table.REQUESTS.value] == 0


def test_purges_expired_entries_as_it_goes(run_step: RunStep, store: LmdbStorage) -> None:
    for i in range(3):
        values = {REQUEST_ID: f"old{i}", RESPONSE: make_session()}
        run_step(RememberRequest(ttl_ns=10), make_session(), values=values, now_ns=NOW)
    assert store.stat()[Table.REQUESTS.value] == 6  # entry + expiry key each
    values = {REQUEST_ID: "new", RESPONSE: make_session()}
    run_step(RememberRequest(), make_session(), values=values, now_ns=NOW + 11)
    assert store.stat()[Table.REQUESTS.value] == 2  # only the new entry and its expiry key
