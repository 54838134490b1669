"""Calls started at the same moment, for the tests of what happens when two writers race."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

Result = TypeVar("Result")
Caught = TypeVar("Caught", bound=Exception)


def race(*calls: Callable[[], Result], caught: type[Caught]) -> list[Result | Caught]:
    """Run ``calls`` at the same moment, each in its own thread: in their order, what each
    returned, or the ``caught`` exception it raised (any other one fails its thread)."""
    outcomes: dict[int, Result | Caught] = {}
    barrier = threading.Barrier(len(calls))

    def run(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = calls[index]()
        except caught as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [outcomes[index] for index in range(len(calls))]
