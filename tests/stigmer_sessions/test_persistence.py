from stigmer_sessions import SessionController
from tests.conftest import make_session


def test_close_and_reopen_keeps_everything(store_url: str) -> None:
    with SessionController(store=store_url) as c:
        kept = [c.create(make_session(f"s{i}", tags=("t",), agent="ain-9")) for i in range(20)]
        gone = c.create(make_session("deleted"))
        c.delete(gone.metadata.id)
    with SessionController(store=store_url) as c:
        assert [c.get(s.metadata.id) for s in kept] == kept
        assert c.get_by_reference(org="acme", slug="s3") == kept[3]
        assert c.list(tags=["t"]).total_size == 20
        assert c.list_by_agent(agent_id="ain-9").total_size == 20
        assert c.list().total_size == 20
        c.create(make_session("deleted"))  # its slug was freed before the restart
