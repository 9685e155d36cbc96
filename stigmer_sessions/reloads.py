"""What SIGHUP re-reads (certificates, token files) without dropping the server."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable

_log = logging.getLogger("stigmer_sessions")


class Reloads:
    """Callbacks run, in order, on each SIGHUP. One that fails is logged at ERROR and the
    others still run: a bad new file keeps the old configuration in force."""

    def __init__(self) -> None:
        self._callbacks: list[tuple[str, Callable[[], None]]] = []
        self._lock = threading.Lock()

    def add(self, what: str, callback: Callable[[], None]) -> None:
        self._callbacks.append((what, callback))

    def run(self) -> int:
        """Run every callback; how many succeeded."""
        done = 0
        with self._lock:  # a second SIGHUP waits for the first
            for what, callback in self._callbacks:
                try:
                    callback()
                except Exception as exc:  # keep serving with what was loaded before
                    _log.error(
                        "reload failed; keeping the previous %s", what, extra={"fields": {"error": str(exc)}}
                    )
                else:
                    done += 1
                    _log.info("reloaded", extra={"fields": {"what": what}})
        return done

    def on_sighup(self) -> None:
        """Run the callbacks on every SIGHUP (call from the main thread), in a thread of their
        own so the signal handler returns at once."""
        signal.signal(signal.SIGHUP, lambda *_: threading.Thread(target=self.run, daemon=True).start())
