"""Background compaction of the change feed, so the log stays within its retention."""

from __future__ import annotations

import logging
import threading

from stigmer_sessions.controller.session_controller import SessionController

DEFAULT_RETAIN_CHANGES = 1_000_000
DEFAULT_RETAIN_AGE_S = 7 * 24 * 3600.0
DEFAULT_INTERVAL_S = 60.0

_log = logging.getLogger("stigmer_sessions.compactor")


class ChangeCompactor:
    """Every ``interval_s``, drop changes beyond the newest ``keep_revisions`` and older than
    ``max_age_s``. Each batch is its own short write transaction, so writers barely notice.
    A failed run is logged and retried at the next interval; it never stops the server."""

    def __init__(
        self,
        controller: SessionController,
        *,
        keep_revisions: int | None = DEFAULT_RETAIN_CHANGES,
        max_age_s: float | None = DEFAULT_RETAIN_AGE_S,
        interval_s: float = DEFAULT_INTERVAL_S,
    ) -> None:
        self.controller = controller
        self.keep_revisions = keep_revisions
        self.max_age_s = max_age_s
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="change-compactor", daemon=True)

    def start(self) -> ChangeCompactor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def run_once(self) -> int:
        result = self.controller.compact_changes(keep_revisions=self.keep_revisions, max_age_s=self.max_age_s)
        if result.deleted:
            _log.info(
                "compacted changes",
                extra={"fields": {"deleted": result.deleted, "oldest_revision": result.oldest_revision}},
            )
        return result.deleted

    def _loop(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.run_once()
            except Exception:
                _log.exception("change compaction failed; retrying in %.0f s", self.interval_s)
