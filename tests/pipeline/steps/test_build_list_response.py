from pipeline.keys import LIST_PAGE, RESPONSE
from pipeline.listing import Page
from pipeline.steps import BuildListResponse
from stigmer_sessions.api import ListSessionsRequest, SessionList
from tests.conftest import RunStep, make_session


def test_builds_the_list_message(run_step: RunStep) -> None:
    entries = [make_session("a"), make_session("b")]
    page = Page(entries=entries, next_page_token="tok", total_size=5, page_size=2)
    ctx = run_step(
        BuildListResponse(SessionList), ListSessionsRequest(), values={LIST_PAGE: page}, write=False
    )
    response = ctx[RESPONSE]
    assert isinstance(response, SessionList)
    assert list(response.entries) == entries
    assert (response.next_page_token, response.total_size, response.total_pages) == ("tok", 5, 3)


def test_totals_saturate_at_int32(run_step: RunStep) -> None:
    page = Page(total_size=2**40, page_size=1)
    ctx = run_step(
        BuildListResponse(SessionList), ListSessionsRequest(), values={LIST_PAGE: page}, write=False
    )
    assert ctx[RESPONSE].total_size == 2**31 - 1
