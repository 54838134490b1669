"""Per-client rate limits of the embedded server: a token bucket per client address and per
token for each route class (``beian.server``). A refused request gets 429 with Retry-After.
On AWS the regional WAF applies the same limits (``beian.firewall``).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, rate_per_second: float, burst: int,
                 clock: Callable[[], float] = time.monotonic, max_clients: int = 100_000) -> None:
        self._rate = rate_per_second
        self._burst = burst
        self._clock = clock
        self._max_clients = max_clients
        self._buckets: dict[str, Bucket] = {}
        self._lock = threading.Lock()

    def acquire(self, client: str) -> float:
        """0 if the request may go ahead, else the seconds to wait before retrying."""
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(client)
            if bucket is None:
                if len(self._buckets) >= self._max_clients:
                    self._forget_idle(now)
                bucket = self._buckets[client] = Bucket(float(self._burst), now)
            bucket.tokens = min(self._burst, bucket.tokens + (now - bucket.updated) * self._rate)
            bucket.updated = now
            if bucket.tokens >= 1:
                bucket.tokens -= 1
                return 0.0
            return (1 - bucket.tokens) / self._rate

    def _forget_idle(self, now: float) -> None:
        # A client whose bucket has refilled is indistinguishable from a new one.
        full = self._burst / self._rate
        for client in [c for c, b in self._buckets.items() if now - b.updated >= full]:
            del self._buckets[client]


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))
