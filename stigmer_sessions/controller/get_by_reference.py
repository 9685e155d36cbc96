"""Get a session by (org, slug).

``ValidateProto -> LoadByReference``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import LoadByReference, ValidateProto
from stigmer_sessions.api import ApiResourceReference


def build(validator: protovalidate.Validator | None = None) -> Pipeline[ApiResourceReference]:
    return Pipeline("session.getByReference", [ValidateProto(validator), LoadByReference()], write=False)
