"""Page tokens stay correct while sessions are created and deleted between pages."""

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stigmer_sessions import Session, SessionController
from tests.backends import BACKENDS, open_backend
from tests.conftest import make_session


def _walk(controller: SessionController, page_size: int, between: object = None) -> list[str]:
    seen: list[str] = []
    token = ""
    while True:
        page = controller.list(page_size=page_size, page_token=token, org="acme")
        seen += [s.metadata.id for s in page.entries]
        token = page.next_page_token
        if not token:
            return seen
        if between:
            between()  # type: ignore[operator]


def test_walk_sees_everything_once_in_order(controller: SessionController) -> None:
    ids = [controller.create(make_session(f"s{i}")).metadata.id for i in range(23)]
    assert _walk(controller, 5) == ids[::-1]


def test_inserts_and_deletes_between_pages(controller: SessionController) -> None:
    created = [controller.create(make_session(f"s{i}")) for i in range(30)]
    rng = random.Random(7)
    survivors = {s.metadata.id for s in created}
    deletable = list(created[:-1])
    counter = iter(range(1000))

    def churn() -> None:
        controller.create(make_session(f"new{next(counter)}"))
        victim = deletable.pop(rng.randrange(len(deletable)))
        controller.delete(victim.metadata.id)
        survivors.discard(victim.metadata.id)

    seen = _walk(controller, 4, churn)
    assert len(seen) == len(set(seen)), "no duplicates"
    old = {s.metadata.id for s in created}
    # Every pre-existing session that survived the whole walk is seen exactly once.
    assert survivors <= set(seen)
    assert [i for i in seen if i in old] == sorted((i for i in seen if i in old), reverse=True)


@pytest.mark.parametrize("name", BACKENDS)  # not the backend fixture: hypothesis refuses function fixtures
@settings(max_examples=25, deadline=None)
@given(n=st.integers(0, 40), page_size=st.integers(1, 12))
def test_any_page_size_partitions_the_list(
    name: str, tmp_path_factory: pytest.TempPathFactory, n: int, page_size: int
) -> None:
    # A store per example (hypothesis reruns the body; function fixtures would be shared).
    with open_backend(name, tmp_path_factory.mktemp("p")) as store:
        controller = SessionController(store=store)
        ids = [controller.create(make_session(f"s{i}")).metadata.id for i in range(n)]
        assert _walk(controller, page_size) == ids[::-1]
        first: Session | None = controller.list(page_size=page_size, org="acme").entries[0] if n else None
        assert first is None or first.metadata.id == ids[-1]
