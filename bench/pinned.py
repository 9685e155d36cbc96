"""``python -m bench.pinned CPU PROGRAM [ARGS...]``: pin to CPU (negative: any cpu), then exec
``python PROGRAM ARGS``. The affinity survives exec and every thread the program starts
inherits it, which setting it from outside after start would not give (it moves one thread)."""

from __future__ import annotations

import os
import sys

from bench.stats import pin

if __name__ == "__main__":
    pin(int(sys.argv[1]))
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
