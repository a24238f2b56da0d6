"""Does a native call hold the GIL? A Python counting loop's speed while another thread repeats the call.

    python -m bench.search.gil --index bench/.work/search-latency/data/index [--seconds 2] [--process]

Run it on a COPY of an index folder, or with no server running on it (Edge locks a shard for one process).
For each call: the loop's iterations in `seconds` with the other thread calling, as a share of the loop
alone, and the calls per second the other thread made. A share near 1 means the call releases the GIL
while it works; near 0, it holds it throughout, so in the server it adds to the event loop's own work.
With `--process` the engine is served from a child process (`EdgeProcessEngine`, the server's default):
what is left in this process is the IPC.
"""

from __future__ import annotations

import argparse
import random
import threading
import time
from collections.abc import Callable
from pathlib import Path

from contextql.graph.index.edge import EdgeEngine
from contextql.graph.index.edge_process import EdgeProcessEngine
from contextql.graph.index.engine import Where

COLLECTION = "contextql"


def _spin(seconds: float) -> int:
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        n += 1
    return n


def share_while(call: Callable[[], object], seconds: float) -> tuple[float, float]:
    """(the loop's speed with `call` running in another thread / alone, calls per second made)."""
    stop, calls = threading.Event(), [0]

    def repeat() -> None:
        while not stop.is_set():
            call()
            calls[0] += 1

    alone = max(_spin(seconds), _spin(seconds))  # the first run of the loop is often the slower
    other = threading.Thread(target=repeat)
    other.start()
    together = _spin(seconds)
    stop.set()
    other.join()
    return together / alone, calls[0] / seconds


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m bench.search.gil", description=__doc__.split("\n\n")[0])
    p.add_argument("--index", type=Path, required=True, help="an embedded index folder (data/index)")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--process", action="store_true", help="serve the engine from a child process")
    args = p.parse_args(argv)
    engine = EdgeProcessEngine(args.index) if args.process else EdgeEngine(args.index)
    dim, _ = engine.layout(COLLECTION)
    rng = random.Random(1)
    dense = [rng.uniform(-1, 1) for _ in range(dim)]
    sparse = ([11, 2000, 31337], [1.0, 1.0, 1.0])
    calls = {
        "Edge dense query, 40 hits": lambda: engine.query(COLLECTION, Where(), 40, dense=dense),
        "Edge keyword query, 40 hits": lambda: engine.query(COLLECTION, Where(), 40, sparse=sparse),
        "Edge hybrid query, 40 hits": lambda: engine.query(COLLECTION, Where(), 40, dense=dense, sparse=sparse),
        "time.sleep(0.001) (releases the GIL)": lambda: time.sleep(0.001),
    }
    try:
        for name, call in calls.items():
            share, rate = share_while(call, args.seconds)
            print(f"{name:40s} loop at {share:5.2f} of its speed alone; {rate:7.0f} calls/s in the other thread")
    finally:
        engine.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
