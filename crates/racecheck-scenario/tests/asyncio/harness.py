"""Runs an asyncio program under many orders of its ready tasks and prints
the set of its outcomes, for comparison with racecheck's exploration of the
same program written as a scenario (tests/asyncio_yields.rs).

    python3 harness.py PROGRAM.py [RUNS]

PROGRAM.py defines `async def main()` returning the outcome as a string.
Each run uses an event loop whose ready queue hands out a random ready
callback instead of the oldest (seeded by the run's number): any task that
asyncio has made ready may run next, which is the freedom racecheck explores
at yield points. A run in which nothing is ready and no timer is pending
while `main` has not returned is a hang. The outcomes are printed sorted,
space-separated, on one line: `123 213 hang`.
"""

import asyncio
import collections
import importlib.util
import random
import sys


class ShuffledReady(collections.deque):
    """The loop's ready queue: `popleft` takes a random element."""

    def __init__(self, rng):
        super().__init__()
        self.rng = rng

    def popleft(self):
        index = self.rng.randrange(len(self))
        handle = self[index]
        del self[index]
        return handle


class Hang(Exception):
    """Nothing can run and nothing will: the tasks left wait for good."""


class ShuffledLoop(asyncio.SelectorEventLoop):
    def __init__(self, rng):
        super().__init__()
        self._ready = ShuffledReady(rng)

    def _run_once(self):
        if not self._ready and not self._scheduled:
            raise Hang()
        super()._run_once()


def outcome(main, seed):
    loop = ShuffledLoop(random.Random(seed))
    loop.set_exception_handler(lambda loop, context: None)
    try:
        return str(loop.run_until_complete(main()))
    except Hang:
        return "hang"
    finally:
        loop.close()


def main():
    path = sys.argv[1]
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 500
    spec = importlib.util.spec_from_file_location("program", path)
    program = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(program)
    outcomes = {outcome(program.main, seed) for seed in range(runs)}
    print(" ".join(sorted(outcomes)))


if __name__ == "__main__":
    main()
