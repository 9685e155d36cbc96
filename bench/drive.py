"""Closed-loop load: keep N calls in flight from one client thread with gRPC futures.

One thread with N outstanding futures generates N concurrent clients without N Python
threads fighting over the client's GIL, so the server, not the client, is what saturates.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from bench.stats import Result


def closed_loop(name: str, start_call: Callable[[int], Any], *, concurrency: int, total: int) -> Result:
    """Issue ``total`` calls, ``concurrency`` at a time; ``start_call(i)`` returns a future."""
    lock = threading.Lock()
    done = threading.Event()
    latencies: list[int] = []
    state = {"issued": 0, "finished": 0, "errors": 0}

    def launch() -> None:
        with lock:
            if state["issued"] >= total:
                return
            i = state["issued"]
            state["issued"] += 1
        began = time.perf_counter_ns()
        future = start_call(i)
        future.add_done_callback(lambda f, began=began: finish(f, began))

    def finish(future: Any, began: int) -> None:
        elapsed = time.perf_counter_ns() - began
        with lock:
            latencies.append(elapsed)
            state["finished"] += 1
            if future.exception() is not None:
                state["errors"] += 1
            finished = state["finished"]
        if finished == total:
            done.set()
        else:
            launch()

    start = time.perf_counter()
    for _ in range(min(concurrency, total)):
        launch()
    done.wait(600)
    elapsed = time.perf_counter() - start
    if state["errors"]:
        raise RuntimeError(f"{name}: {state['errors']} of {total} calls failed")
    return Result.of_samples(name, total / elapsed, latencies)
