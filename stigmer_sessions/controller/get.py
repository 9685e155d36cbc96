"""Get a session by id.

``ValidateProto -> ExtractResourceId -> LoadTarget``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import ExtractResourceId, LoadTarget, ValidateProto
from stigmer_sessions.api import SessionId


def build(validator: protovalidate.Validator | None = None) -> Pipeline[SessionId]:
    return Pipeline("session.get", [ValidateProto(validator), ExtractResourceId(), LoadTarget()], write=False)
