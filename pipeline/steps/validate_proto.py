"""ValidateProto: the request must satisfy its message's protovalidate rules."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import protovalidate

from pipeline.context import RequestContext
from pipeline.validation import shared_validator, validate


@dataclass(frozen=True, slots=True)
class ValidateProto:
    """Reads ``ctx.input``. Raises InvalidArgument carrying every violation (not just the
    first), so a client fixes its request in one round trip.

    ``validator`` defaults to the process-wide one, whose compiled rules are cached.
    """

    validator: protovalidate.Validator | None = None

    def __call__(self, ctx: RequestContext[Any]) -> None:
        validate(ctx.input, self.validator or shared_validator())
