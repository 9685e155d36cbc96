from hypothesis import given
from hypothesis import strategies as st

from pipeline.keycodec import pack, unpack

parts = st.lists(st.text(), max_size=4)


@given(parts)
def test_round_trip(values: list[str]) -> None:
    assert unpack(pack(*values)) == tuple(values)


@given(parts, parts)
def test_byte_order_is_tuple_order(a: list[str], b: list[str]) -> None:
    # Python compares str by code point; UTF-8 preserves code point order.
    assert (pack(*a) < pack(*b)) == (tuple(a) < tuple(b))


@given(parts, st.text(), st.text())
def test_prefix_matches_only_keys_with_that_part(head: list[str], part: str, other: str) -> None:
    prefix = pack(*head, part)
    assert pack(*head, part, other).startswith(prefix)
    if other != part:
        assert not pack(*head, other).startswith(prefix)
        assert not pack(*head, other, part).startswith(prefix)


@given(st.text(), st.text(min_size=1), st.text())
def test_a_part_is_never_a_prefix_of_a_longer_part(part: str, extra: str, tail: str) -> None:
    # Hypothesis rarely stumbles on this by chance: check it for every extension directly.
    assert not pack(part + extra, tail).startswith(pack(part))


def test_nul_inside_a_part_does_not_split_it() -> None:
    assert unpack(pack("a\x00b", "c")) == ("a\x00b", "c")
    assert not pack("a\x00", "x").startswith(pack("a"))
    assert pack("a", "x") < pack("a\x00")  # ("a", ...) < ("a\x00",) as tuples
