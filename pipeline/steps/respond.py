"""Respond: answer with something other than the resource (e.g. the appended message)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipeline.context import Key, RequestContext
from pipeline.keys import RESPONSE


@dataclass(frozen=True, slots=True)
class Respond:
    """Reads ``ctx[key]``; writes it to ``ctx[RESPONSE]``. Goes after the steps that need
    RESPONSE to be the resource (AppendEvent) and before RememberRequest."""

    key: Key[Any]

    def __call__(self, ctx: RequestContext[Any]) -> None:
        ctx[RESPONSE] = ctx[self.key]
