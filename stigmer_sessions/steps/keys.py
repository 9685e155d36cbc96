"""The context keys only session steps exchange (the generic ones are in ``pipeline.keys``)."""

from __future__ import annotations

from pipeline.context import Key
from stigmer_sessions.api import SessionChange, SessionMessageList

#: The messages a batch appended (AppendMessages), in sequence order, as the response
#: lists them: ``total_size`` is the session's message count after the batch.
APPENDED: Key[SessionMessageList] = Key("appended")

#: The messages a removal (PopMessages) removed, in sequence order, as the response lists
#: them: ``total_size`` is the session's message count after it.
REMOVED: Key[SessionMessageList] = Key("removed")

#: What a removal's change says besides the session (PopMessages, ClearMessages): a
#: SessionChange holding only ``removed``.
REMOVAL: Key[SessionChange] = Key("removal")
