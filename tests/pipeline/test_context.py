import pytest

from pipeline.context import Key, RequestContext
from pipeline.errors import Internal
from pipeline.storage import Storage
from stigmer_sessions.resource import SESSION
from tests.conftest import make_session

NUMBER: Key[int] = Key("number")


def test_new_state_is_a_copy_and_input_stays_untouched(store: Storage) -> None:
    request = make_session("original")

    def body(txn: object) -> None:
        ctx = RequestContext(request, kind=SESSION, tx=txn)  # type: ignore[arg-type]
        ctx.new_state.metadata.name = "changed"
        assert ctx.input.metadata.name == "original"

    store.read(body)
    assert request.metadata.name == "original"


def test_missing_key_is_an_internal_wiring_error(store: Storage) -> None:
    def body(txn: object) -> None:
        ctx = RequestContext(make_session(), kind=SESSION, tx=txn)  # type: ignore[arg-type]
        assert ctx.get(NUMBER) is None
        assert ctx.get(NUMBER, 7) == 7
        with pytest.raises(Internal, match="number"):
            ctx[NUMBER]
        ctx[NUMBER] = 3
        assert ctx[NUMBER] == 3
        assert NUMBER in ctx

    store.read(body)


def test_empty_actor_means_system(store: Storage) -> None:
    actor = store.read(lambda txn: RequestContext(make_session(), kind=SESSION, tx=txn, actor="").actor)
    assert actor == "system"
