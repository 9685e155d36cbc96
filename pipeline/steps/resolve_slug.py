"""ResolveSlug: every resource gets a valid slug, given or derived from its name."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from slugify import slugify

from pipeline.context import RequestContext
from pipeline.errors import InvalidArgument, quote
from pipeline.keys import SLUG

MAX_SLUG_LENGTH = 63
SLUG_PATTERN = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")


def slug_from_name(name: str) -> str:
    """Lowercase, hyphenated, transliterated (``Café Über`` -> ``cafe-uber``), at most 63 chars."""
    return str(slugify(name, max_length=MAX_SLUG_LENGTH, word_boundary=False, save_order=True))


@dataclass(frozen=True, slots=True)
class ResolveSlug:
    """Reads ``ctx.new_state.metadata.slug`` / ``.name`` (the request's, unless GenerateName
    supplied a name); writes ``ctx.new_state.metadata.slug`` and ``ctx[SLUG]``.

    A client-supplied slug must already be valid (it is an identifier: silently rewriting it
    would hand back something the client did not ask for). Otherwise the slug comes from the
    name. Raises InvalidArgument naming ``metadata.slug`` or ``metadata.name``.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        meta = ctx.new_state.metadata  # the request's copy; GenerateName may have named it
        if meta.slug:
            if len(meta.slug) > MAX_SLUG_LENGTH or not SLUG_PATTERN.match(meta.slug):
                raise InvalidArgument.for_field(
                    "metadata.slug",
                    f"{quote(meta.slug)} is not a valid slug: use lowercase letters, digits and single "
                    f"hyphens (not at either end), at most {MAX_SLUG_LENGTH} characters",
                    "metadata.slug.format",
                )
            slug = meta.slug
        elif not meta.name.strip():
            raise InvalidArgument.for_field(
                "metadata.name", "is required (or give metadata.slug)", "metadata.name.required"
            )
        else:
            slug = slug_from_name(meta.name)
            if not slug:
                raise InvalidArgument.for_field(
                    "metadata.name",
                    f"{quote(meta.name)} has no letters or digits to make a slug from; give metadata.slug",
                    "metadata.name.no_slug",
                )
        ctx.new_state.metadata.slug = slug
        ctx[SLUG] = slug
