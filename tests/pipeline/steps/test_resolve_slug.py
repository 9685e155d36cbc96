import pytest

from pipeline.errors import InvalidArgument
from pipeline.keys import SLUG
from pipeline.steps import ResolveSlug
from tests.conftest import RunStep, make_session


@pytest.mark.parametrize(
    ("name", "slug"),
    [
        ("Daily Standup", "daily-standup"),
        ("  Café Über  Straße ", "cafe-uber-strasse"),
        ("Q3 -- planning!!", "q3-planning"),
        ("x" * 100, "x" * 63),
    ],
)
def test_slug_from_name(run_step: RunStep, name: str, slug: str) -> None:
    request = make_session(name)
    ctx = run_step(ResolveSlug(), request, write=False)
    assert ctx[SLUG] == slug
    assert ctx.new_state.metadata.slug == slug
    assert request.metadata.slug == ""  # input untouched


def test_long_name_does_not_end_in_a_hyphen(run_step: RunStep) -> None:
    ctx = run_step(ResolveSlug(), make_session("word " * 30), write=False)
    assert len(ctx[SLUG]) <= 63
    assert not ctx[SLUG].endswith("-")


def test_valid_client_slug_is_kept(run_step: RunStep) -> None:
    ctx = run_step(ResolveSlug(), make_session("Whatever", slug="my-slug-2"), write=False)
    assert ctx[SLUG] == "my-slug-2"


@pytest.mark.parametrize("slug", ["Upper", "double--hyphen", "-lead", "trail-", "sp ace", "a" * 64])
def test_invalid_client_slug_is_refused(run_step: RunStep, slug: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(ResolveSlug(), make_session("x", slug=slug), write=False)
    assert [v.field for v in err.value.violations] == ["metadata.slug"]


def test_empty_name_and_slug_names_the_field(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument) as err:
        run_step(ResolveSlug(), make_session("   "), write=False)
    assert [v.field for v in err.value.violations] == ["metadata.name"]


def test_name_without_letters_or_digits(run_step: RunStep) -> None:
    with pytest.raises(InvalidArgument, match="no letters or digits"):
        run_step(ResolveSlug(), make_session("!!! ???"), write=False)
