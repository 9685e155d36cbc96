"""PageByNumber: page_info (num, size) and page_token into one PageRequest for ListPage."""

import pytest

from pipeline.errors import InvalidArgument
from pipeline.keys import PAGE_REQUEST
from pipeline.listing import PageRequest
from pipeline.steps import PageByNumber
from stigmer_sessions.api import GetAgentInstancesByAgentRequest, PageInfo
from tests.conftest import RunStep


def paging(run_step: RunStep, num: int = 0, size: int = 0, token: str = "") -> PageRequest:
    request = GetAgentInstancesByAgentRequest(
        agent_id="agt-1", page_info=PageInfo(num=num, size=size), page_token=token
    )
    return run_step(PageByNumber(), request, write=False)[PAGE_REQUEST]


@pytest.mark.parametrize(
    ("num", "size", "expected"),
    [
        (0, 0, PageRequest(size=50, skip=0)),  # nothing set: the first page of the default size
        (1, 0, PageRequest(size=50, skip=0)),
        (3, 0, PageRequest(size=50, skip=100)),  # size 0 is the default for the offset too
        (1, 10, PageRequest(size=10, skip=0)),
        (2, 10, PageRequest(size=10, skip=10)),
        (5, 7, PageRequest(size=7, skip=28)),
        (0, 7, PageRequest(size=7, skip=0)),  # num 0 is the first page
        (2, 5000, PageRequest(size=1000, skip=1000)),  # clamped like page_size, offset too
    ],
)
def test_page_number_and_size(run_step: RunStep, num: int, size: int, expected: PageRequest) -> None:
    assert paging(run_step, num, size) == expected


def test_no_page_info_at_all_is_the_first_default_page(run_step: RunStep) -> None:
    ctx = run_step(PageByNumber(), GetAgentInstancesByAgentRequest(agent_id="agt-1"), write=False)
    assert ctx[PAGE_REQUEST] == PageRequest(size=50, token="", skip=0)


def test_a_token_wins_over_the_page_number(run_step: RunStep) -> None:
    assert paging(run_step, num=4, size=10, token="tok") == PageRequest(size=10, token="tok", skip=0)


@pytest.mark.parametrize(
    ("num", "size", "bad"), [(-1, 0, ["page_info.num"]), (-1, -2, ["page_info.num", "page_info.size"])]
)
def test_negative_values_are_invalid(run_step: RunStep, num: int, size: int, bad: list[str]) -> None:
    with pytest.raises(InvalidArgument) as err:
        paging(run_step, num, size)
    assert [v.field for v in err.value.violations] == bad


def test_huge_page_numbers_do_not_overflow(run_step: RunStep) -> None:
    """int32 max times the largest size: Python ints, so the skip is exact (and ListPage's
    scan simply ends when the matches do)."""
    assert paging(run_step, num=2**31 - 1, size=1000).skip == (2**31 - 2) * 1000
