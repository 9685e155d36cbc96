from collections.abc import Iterator

import pytest

from pipeline.errors import InvalidArgument
from pipeline.listing import (
    DEFAULT_PAGE_SIZE,
    ENTRY_OVERHEAD_BYTES,
    MAX_PAGE_SIZE,
    RESPONSE_OVERHEAD_BYTES,
    Filters,
    Page,
    clamp_page_size,
    decode_position,
    decode_token,
    encode_token,
    fill_page,
    fingerprint,
    newest_first,
)
from stigmer_sessions.api import ApiResourceOwnerScope, ListSessionsRequest
from tests.conftest import make_session


def test_page_size_default_and_clamp() -> None:
    assert clamp_page_size(0) == DEFAULT_PAGE_SIZE == 50
    assert clamp_page_size(7) == 7
    assert clamp_page_size(5000) == MAX_PAGE_SIZE == 1000


def test_token_round_trip() -> None:
    q = fingerprint("session", "acme")
    assert decode_token(encode_token(q, "ses-01abc"), q) == "ses-01abc"


@pytest.mark.parametrize("token", ["!!!", "AA", "AQ", encode_token(b"12345678", "")])
def test_malformed_token_is_invalid_argument(token: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        decode_token(token, b"12345678")
    assert err.value.violations[0].field == "page_token"


@pytest.mark.parametrize("position", ["9" * 63, str(2**64), str(2**63)])
def test_a_position_beyond_int64_is_invalid_argument(position: str) -> None:
    # Positions are int64 sequences and revisions packed into 8-byte keys: a forged token
    # with a larger number must be refused, not reach the key packing (struct.error).
    with pytest.raises(InvalidArgument) as err:
        decode_position(encode_token(b"12345678", position), b"12345678")
    assert err.value.violations[0].field == "page_token"
    assert decode_position(encode_token(b"12345678", str(2**63 - 1)), b"12345678") == 2**63 - 1


def test_token_from_another_query_is_refused() -> None:
    token = encode_token(fingerprint("session", "acme"), "ses-1")
    with pytest.raises(InvalidArgument, match="different query"):
        decode_token(token, fingerprint("session", "other"))


def test_total_pages() -> None:
    assert Page(total_size=0, page_size=50).total_pages == 0
    assert Page(total_size=50, page_size=50).total_pages == 1
    assert Page(total_size=51, page_size=50).total_pages == 2


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [("", True), ("create_time desc", True), ("create_time", False), ("CREATE_TIME ASC", False)],
)
def test_order_by(order_by: str, expected: bool) -> None:
    assert newest_first(order_by) is expected


@pytest.mark.parametrize("order_by", ["name", "create_time sideways", "create_time asc extra"])
def test_unsupported_order_by(order_by: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        newest_first(order_by)
    assert err.value.violations[0].field == "order_by"


class _CountingTag(str):
    """A tag that counts how often it is compared for equality."""

    comparisons = 0
    __hash__ = str.__hash__

    def __eq__(self, other: object) -> bool:
        _CountingTag.comparisons += 1
        return str.__eq__(self, other)


def test_the_tag_filter_costs_linear_not_quadratic_comparisons() -> None:
    # Tags are unbounded in number (a 1 MiB session holds ~15k of them, a request far more):
    # checking each filter tag against the record's tag list was n x m comparisons per
    # record, ~10 s of CPU for one record with 15k tags filtered by the same 15k.
    n = 2000
    filters = Filters(tags=tuple(_CountingTag(f"t{i}") for i in range(n)))
    record = make_session()
    record_tags = [_CountingTag(f"t{i}") for i in reversed(range(n))]  # equal, not identical
    meta = type("Meta", (), {"org": "", "owner_scope": 0, "labels": {}, "tags": record_tags})()
    _CountingTag.comparisons = 0
    assert filters.matches(type("Rec", (), {"metadata": meta})())
    assert _CountingTag.comparisons <= 4 * n
    record.metadata.tags.extend(f"t{i}" for i in range(n - 1))
    assert not filters.matches(record)  # one filter tag missing


def test_filters_from_a_request_and_matching() -> None:
    request = ListSessionsRequest(
        org="acme",
        tags=["b", "a", "b"],
        label_selector="env=prod",
        owner_scope=ApiResourceOwnerScope.organization,
    )
    filters = Filters.of(request)
    assert filters.tags == ("a", "b")
    assert filters.count == 5
    record = make_session(org="acme", tags=("a", "b", "c"))
    record.metadata.labels["env"] = "prod"
    assert filters.matches(record)
    record.metadata.owner_scope = ApiResourceOwnerScope.identity_account
    assert not filters.matches(record)


def sized(*sizes: int) -> list[tuple[str, int]]:
    return [(f"e{i}", size) for i, size in enumerate(sizes)]


def test_fill_page_stops_at_page_size_and_says_more_is_left() -> None:
    assert fill_page(sized(1, 1, 1), page_size=2, max_bytes=10**6) == (["e0", "e1"], True)
    assert fill_page(sized(1, 1), page_size=2, max_bytes=10**6) == (["e0", "e1"], False)
    assert fill_page(sized(), page_size=2, max_bytes=10**6) == ([], False)


def test_fill_page_stops_before_the_byte_budget() -> None:
    each = 1000 + ENTRY_OVERHEAD_BYTES
    budget = RESPONSE_OVERHEAD_BYTES + 3 * each
    assert fill_page(sized(1000, 1000, 1000, 1000), page_size=50, max_bytes=budget) == (
        ["e0", "e1", "e2"],
        True,
    )
    assert fill_page(sized(1000, 1000, 1000), page_size=50, max_bytes=budget) == (["e0", "e1", "e2"], False)
    # one byte less and the third no longer fits
    assert fill_page(sized(1000, 1000, 1000), page_size=50, max_bytes=budget - 1) == (["e0", "e1"], True)


def test_fill_page_always_takes_the_first_entry_and_counts_what_is_reserved() -> None:
    assert fill_page(sized(10**6, 1), page_size=50, max_bytes=1000) == (["e0"], True)
    assert fill_page(sized(10**6), page_size=50, max_bytes=1000) == (["e0"], False)
    budget = RESPONSE_OVERHEAD_BYTES + 2 * (100 + ENTRY_OVERHEAD_BYTES)
    assert fill_page(sized(100, 100), page_size=50, max_bytes=budget) == (["e0", "e1"], False)
    assert fill_page(sized(100, 100), page_size=50, max_bytes=budget, reserved=1) == (["e0"], True)


def test_fill_page_reads_at_most_one_entry_past_the_page() -> None:
    read: list[int] = []

    def entries() -> Iterator[tuple[int, int]]:
        for i in range(100):
            read.append(i)
            yield i, 10

    assert fill_page(entries(), page_size=3, max_bytes=10**6) == ([0, 1, 2], True)
    assert read == [0, 1, 2, 3]
