"""CheckVersion: optimistic concurrency, a write applies only to the version the client saw."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import RequestContext
from pipeline.errors import Aborted
from pipeline.keys import EXISTING, EXPECTED_VERSION


def expected_version(ctx: RequestContext[Any]) -> str:
    """``ctx[EXPECTED_VERSION]`` (``x-if-match``) if given, else the request's own
    ``expected_version`` field (command requests like a transition), else its
    ``metadata.version.id`` when the request is a resource; '' means unconditional."""
    explicit = ctx.get(EXPECTED_VERSION) or getattr(ctx.input, "expected_version", "")
    if explicit:
        return str(explicit)
    # A request's ``metadata`` is the resource's only when it has a version (an append's
    # ``metadata`` is the message's map).
    version = getattr(getattr(ctx.input, "metadata", None), "version", None)
    return str(version.id) if version is not None else ""


@dataclass(frozen=True, slots=True)
class CheckVersion:
    """Reads the expected version (see :func:`expected_version`) and ``ctx[EXISTING]``.

    Raises Aborted naming both versions when they differ, or when a version is expected but
    nothing is stored (an apply that would create). Without an expected version the write
    is unconditional, as in Stigmer. Runs before anything is built, so a conflict costs a
    read and changes nothing.
    """

    def __call__(self, ctx: RequestContext[Any]) -> None:
        expected = expected_version(ctx)
        if not expected:
            return
        existing = ctx[EXISTING]
        if existing is None:
            raise Aborted(
                f"version {expected!r} was expected, but no such {ctx.kind.name} exists; "
                f"omit the version to create it"
            )
        actual = existing.metadata.version.id
        if actual != expected:
            raise Aborted(
                f"{ctx.kind.name} {existing.metadata.id} is at version {actual!r}, not the expected "
                f"{expected!r}: it changed since you read it; re-read and retry"
            )
