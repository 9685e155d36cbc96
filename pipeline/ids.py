"""Time-ordered identifiers (ULIDs, lowercase Crockford base32).

IDs sort by creation time, which is what lets the store list records newest- or
oldest-first by scanning keys instead of sorting. Within one millisecond the generator is
monotonic (the random part is incremented), so ids made by one process never tie and keep
their creation order even under a burst of writes.
"""

from __future__ import annotations

import os
import threading
import time

_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_RANDOM_BITS = 80
_RANDOM_MAX = (1 << _RANDOM_BITS) - 1
# Two characters per lookup: half the steps of encoding five bits at a time.
_PAIRS = [a + b for a in _ALPHABET for b in _ALPHABET]
_SHIFTS = tuple(range(120, -1, -10))


class UlidGenerator:
    """Thread-safe, monotonic ULID source."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = -1
        self._last_random = 0

    def new(self, now_ns: int | None = None) -> str:
        ms = (time.time_ns() if now_ns is None else now_ns) // 1_000_000
        with self._lock:
            if ms <= self._last_ms:
                # Same (or an earlier, clock stepped back) millisecond: keep ordering strictly.
                ms = self._last_ms
                rnd = self._last_random + 1
                if rnd > _RANDOM_MAX:  # 2^80 ids in one ms: borrow the next millisecond
                    ms, rnd = ms + 1, int.from_bytes(os.urandom(10), "big") >> 1
            else:
                rnd = int.from_bytes(os.urandom(10), "big")
            self._last_ms, self._last_random = ms, rnd
        value = (ms << _RANDOM_BITS) | rnd  # 128 bits; as 13 ten-bit pairs the top 2 are 0
        return "".join([_PAIRS[(value >> shift) & 1023] for shift in _SHIFTS])


_default = UlidGenerator()


def new_ulid(now_ns: int | None = None) -> str:
    """A new lowercase ULID from the process-wide generator."""
    return _default.new(now_ns)


def new_id(prefix: str, now_ns: int | None = None) -> str:
    """A resource id: ``<prefix>-<ulid>``, e.g. ``ses-01jd...``."""
    return f"{prefix}-{_default.new(now_ns)}"
