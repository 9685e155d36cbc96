import pytest

from pipeline.errors import InvalidArgument
from stigmer_sessions import ListSessionsRequest, SessionController
from tests.conftest import make_session


def test_list_newest_first_with_filters(controller: SessionController) -> None:
    a = controller.create(make_session("a", org="acme", tags=("x",)))
    b = controller.create(make_session("b", org="acme"))
    c = controller.create(make_session("c", org="beta", tags=("x",)))
    assert [s.metadata.id for s in controller.list().entries] == [c.metadata.id, b.metadata.id, a.metadata.id]
    assert [s.metadata.id for s in controller.list(org="acme").entries] == [b.metadata.id, a.metadata.id]
    assert [s.metadata.id for s in controller.list(tags=["x"]).entries] == [c.metadata.id, a.metadata.id]
    assert [s.metadata.id for s in controller.list(org="acme", tags=["x"]).entries] == [a.metadata.id]


def test_page_size_default_and_clamp(controller: SessionController) -> None:
    for i in range(60):
        controller.create(make_session(f"s{i}"))
    page = controller.list()
    assert (len(page.entries), page.total_size, page.total_pages) == (50, 60, 2)
    page = controller.list(page_size=5000)
    assert (len(page.entries), page.total_pages, page.next_page_token) == (60, 1, "")


def test_negative_page_size_and_bad_token_are_invalid(controller: SessionController) -> None:
    with pytest.raises(InvalidArgument):
        controller.list(ListSessionsRequest(page_size=-1))
    with pytest.raises(InvalidArgument, match="page_token"):
        controller.list(page_token="not-a-token")


def test_empty_store(controller: SessionController) -> None:
    page = controller.list()
    assert (list(page.entries), page.next_page_token, page.total_size, page.total_pages) == ([], "", 0, 0)
