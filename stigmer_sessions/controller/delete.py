"""Delete a session and its index entries; returns the deleted session.

``ValidateProto -> ExtractResourceId -> LoadExistingForDelete -> DeleteResource``
"""

from __future__ import annotations

import protovalidate

from pipeline.pipeline import Pipeline
from pipeline.steps import DeleteResource, ExtractResourceId, LoadExistingForDelete, ValidateProto
from stigmer_sessions.api import SessionId


def build(validator: protovalidate.Validator | None = None) -> Pipeline[SessionId]:
    return Pipeline(
        "session.delete",
        [ValidateProto(validator), ExtractResourceId(), LoadExistingForDelete(), DeleteResource()],
        write=True,
    )
