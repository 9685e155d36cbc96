from pipeline.keys import REQUEST_ID, RESPONSE
from pipeline.steps import RememberRequest
from pipeline.storage import Storage
from tests.conftest import RunStep, data_tables, make_session

NOW = 10**18


def test_remembers_response_with_expiry(run_step: RunStep, store: Storage) -> None:
    request, response = make_session("a"), make_session("answer")
    run_step(RememberRequest(ttl_ns=50), request, values={REQUEST_ID: "r1", RESPONSE: response}, now_ns=NOW)
    entry = store.read(lambda txn: txn.requests.lookup("session", "r1", NOW))
    assert entry is not None
    assert entry.expires_at_ns == NOW + 50
    assert entry.response == response.SerializeToString()
    assert store.read(lambda txn: txn.requests.lookup("session", "r1", NOW + 50)) is None


def test_without_request_id_stores_nothing(run_step: RunStep, store: Storage) -> None:
    before = data_tables(store)
    run_step(RememberRequest(), make_session(), values={RESPONSE: make_session()}, now_ns=NOW)
    assert data_tables(store) == before


def test_purges_expired_entries_as_it_goes(run_step: RunStep, store: Storage) -> None:
    for i in range(3):
        values = {REQUEST_ID: f"old{i}", RESPONSE: make_session()}
        run_step(RememberRequest(ttl_ns=10), make_session(), values=values, now_ns=NOW)

    def remembered() -> list[str]:
        # Looked up at NOW, when none had expired: only a purged entry is missing.
        ids = ["old0", "old1", "old2", "new"]
        return store.read(lambda txn: [i for i in ids if txn.requests.lookup("session", i, NOW) is not None])

    assert remembered() == ["old0", "old1", "old2"]
    values = {REQUEST_ID: "new", RESPONSE: make_session()}
    run_step(RememberRequest(), make_session(), values=values, now_ns=NOW + 11)
    assert remembered() == ["new"]  # the expired ones were purged by this write
