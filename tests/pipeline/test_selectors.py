import pytest

from pipeline.errors import InvalidArgument
from pipeline.selectors import EQUALS, EXISTS, NOT_EQUALS, NOT_EXISTS, Requirement, matches, parse

LABELS = {"env": "prod", "tier": "gold", "team": "", "app.kubernetes.io/name": "api"}


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("", True),
        ("env=prod", True),
        ("env==prod", True),
        ("env=dev", False),
        ("env!=dev", True),
        ("env!=prod", False),
        ("missing!=x", True),  # absent labels satisfy !=, as in Kubernetes
        ("missing=x", False),
        ("team", True),  # present with an empty value
        ("team=", True),
        ("missing", False),
        ("!missing", True),
        ("!env", False),
        ("env=prod,tier!=free,team", True),
        ("env=prod,tier=free", False),
        ("app.kubernetes.io/name=api", True),
        (" env = prod , !legacy ", True),
    ],
)
def test_semantics(selector: str, expected: bool) -> None:
    assert matches(parse(selector), LABELS) is expected


def test_parsed_forms() -> None:
    assert parse("a=1,b!=2,c,!d") == (
        Requirement("a", EQUALS, "1"),
        Requirement("b", NOT_EQUALS, "2"),
        Requirement("c", EXISTS),
        Requirement("d", NOT_EXISTS),
    )
    assert [str(r) for r in parse("a==1,b!=2,c,!d")] == ["a=1", "b!=2", "c", "!d"]


@pytest.mark.parametrize(
    "selector", ["env=prod,", ",", "=x", "env=pr od", "env in (a,b)", "!", "a=b=c", "-x"]
)
def test_syntax_errors_name_the_field_and_part(selector: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        parse(selector)
    assert err.value.violations[0].field == "label_selector"
    assert "cannot parse" in err.value.message


@pytest.mark.parametrize(
    "selector",
    [
        "a/b/c=x",  # one prefix at most
        "Example.com/name",  # prefixes are lowercase DNS subdomains
        "name-=x",  # names end with a letter or digit
        "env=prod-",  # so do values
        "a" * 64,  # names are at most 63 characters
        "env=" + "v" * 64,  # so are values
        "p" * 254 + "/name",  # prefixes at most 253
    ],
)
def test_selectors_name_only_labels_that_can_be_stored(selector: str) -> None:
    with pytest.raises(InvalidArgument, match="cannot parse"):
        parse(selector)


def test_a_huge_selector_part_is_quoted_as_a_prefix() -> None:
    with pytest.raises(InvalidArgument) as err:
        parse("@" * 4000)
    assert len(err.value.message) < 400
    assert "more characters" in err.value.message
