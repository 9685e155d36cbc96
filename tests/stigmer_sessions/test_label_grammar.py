"""One label grammar on both ends: what ApiResourceMetadata's rules accept on write is exactly
what a label selector can name, and every stored label can be selected."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from pipeline import labels, selectors
from pipeline.errors import InvalidArgument
from pipeline.validation import violations_of
from stigmer_sessions import SessionController
from stigmer_sessions._gen.buf.validate import validate_pb2
from stigmer_sessions.api import ApiResourceMetadata
from tests.conftest import make_session

_EDGE = "aZ09-_./@ :=!,é\n\x00"
_text = st.text(alphabet=st.sampled_from(_EDGE), max_size=8)
_name = st.from_regex(rf"\A{labels.NAME}\Z")
_keys = st.one_of(
    _text,
    st.from_regex(rf"\A{labels.KEY}\Z"),
    st.builds(lambda p, n: f"{p}/{n}", st.from_regex(rf"\A{labels.PREFIX}\Z"), _name),
    st.builds(lambda n, k: "a" * n + k, st.integers(55, 70), _text),
    st.builds(lambda n, k: "p" * n + "/" + k, st.integers(248, 258), _name),
)
_values = st.one_of(
    _text, st.from_regex(rf"\A{labels.VALUE}\Z"), st.builds(lambda n: "v" * n, st.integers(60, 66))
)


def _accepted_on_write(key: str, value: str) -> tuple[bool, bool]:
    found = violations_of(ApiResourceMetadata(labels={key: value}))
    rules = {v.rule_id for v in found}
    return "metadata.labels.key_syntax" not in rules, "metadata.labels.value_syntax" not in rules


@given(_keys, _values)
@example("", "x")
@example("a", "a@b.c")
@example("a" * 63, "b" * 63)
@example("a" * 64, "")
@example("p" * 253 + "/k", "")
@example("p" * 254 + "/k", "")
@example("k\n", "v")
def test_write_rules_and_selector_grammar_agree(key: str, value: str) -> None:
    key_ok, value_ok = _accepted_on_write(key, value)
    assert key_ok == labels.valid_key(key)
    assert value_ok == labels.valid_value(value)
    if key_ok:
        assert selectors.parse(key) == (selectors.Requirement(key, selectors.EXISTS),)
        assert selectors.matches(selectors.parse(key), {key: value})
        assert not selectors.matches(selectors.parse(f"!{key}"), {key: value})
    else:  # a key that cannot be stored cannot be named either
        assert _parsed(key) != (selectors.Requirement(key, selectors.EXISTS),)
    if key_ok and value_ok:
        assert selectors.parse(f"{key}={value}") == (selectors.Requirement(key, selectors.EQUALS, value),)
        assert selectors.matches(selectors.parse(f"{key}={value}"), {key: value})
        assert not selectors.matches(selectors.parse(f"{key}!={value}"), {key: value})
    elif key_ok:
        assert _parsed(f"{key}={value}") != (selectors.Requirement(key, selectors.EQUALS, value),)


def _parsed(selector: str) -> tuple[selectors.Requirement, ...] | None:
    try:
        return selectors.parse(selector)
    except InvalidArgument:
        return None


def test_the_proto_rules_spell_the_python_patterns() -> None:
    options = ApiResourceMetadata.DESCRIPTOR.fields_by_name["labels"].GetOptions()
    rules: Any = options.Extensions[validate_pb2.field]  # type: ignore[index]
    assert [r.expression for r in rules.map.keys.cel] == [
        f"this.matches(r'^{labels.KEY}$') && this.matches(r'^{labels.PREFIX_LENGTH}$')"
    ]
    assert [r.expression for r in rules.map.values.cel] == [f"this.matches(r'^{labels.VALUE}$')"]


@pytest.mark.parametrize(("key", "value"), [("", "x"), ("a", "a@b.c"), ("bad key", "v"), ("-a", "")])
def test_unselectable_labels_are_refused_on_create(
    controller: SessionController, key: str, value: str
) -> None:
    session = make_session()
    session.metadata.labels[key] = value
    with pytest.raises(InvalidArgument) as err:
        controller.create(session)
    assert err.value.violations[0].field.startswith("metadata.labels[")
    assert controller.list().total_size == 0
