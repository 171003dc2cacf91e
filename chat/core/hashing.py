"""
Password hashes, taken in turn: each is about 50 ms of a core and 16 MiB
(scrypt at L{chat.core.limits.PASSWORD_COST}), run in the reactor's thread
pool, which every login waits on.

At most L{HASHES_AT_ONCE} are under way in all, and L{HASHES_PER_HOST} for
one address; of those waiting, the next is one of the address whose last
hash started longest ago (addresses take turns), the oldest of its own
first. So an address that seldom hashes (someone logging in) is hashed as
soon as one under way is done, however many addresses keep the others busy:
with first come, first served, a login waited behind every address's
hashes, 0.7 s with 16 of them looping. (Ranking addresses by what is left
of their allowance instead put a login behind every address that had just
begun, with all of theirs left.)
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Callable
from typing import Any, TypeVar

from twisted.internet.defer import Deferred, maybeDeferred

from chat.core.limits import HASHES_AT_ONCE, HASHES_PER_HOST

_T = TypeVar("_T")

_Waiting = tuple[int, Callable[[], "Deferred[Any]"], "Deferred[Any]"]


class Hashing:
    """
    The password hashes under way and those waiting, by address.
    """

    def __init__(self) -> None:
        self._running: Counter[str] = Counter()
        self._under_way = 0
        self._waiting: dict[str, deque[_Waiting]] = {}
        self._arrivals = 0
        # When each address's last hash started (the count of hashes started then).
        self._served: dict[str, int] = {}
        self._starts = 0

    def run(self, key: str, step: Callable[[], Deferred[_T]]) -> Deferred[_T]:
        """
        Run C{step}, which hashes a password for address C{key}, in its
        turn; fire with its result.
        """
        done: Deferred[_T] = Deferred()
        self._arrivals += 1
        self._waiting.setdefault(key, deque()).append((self._arrivals, step, done))
        self._next()
        return done

    def _next(self) -> None:
        while self._under_way < HASHES_AT_ONCE:
            ready = [key for key in self._waiting if self._running[key] < HASHES_PER_HOST]
            if not ready:
                return
            served = self._served
            key = min(ready, key=lambda k: (served.get(k, 0), self._waiting[k][0][0]))
            queue = self._waiting[key]
            _, step, done = queue.popleft()
            if not queue:
                del self._waiting[key]
            self._start(key, step, done)

    def _start(self, key: str, step: Callable[[], Deferred[Any]], done: Deferred[Any]) -> None:
        self._running[key] += 1
        self._under_way += 1
        self._starts += 1
        if key not in self._served and len(self._served) > 10_000:
            # Many addresses (an attacker's): forgetting the idle ones only
            # gives each a turn sooner, once.
            for idle in [
                k for k in self._served if k not in self._running and k not in self._waiting
            ]:
                del self._served[idle]
        self._served[key] = self._starts

        def finished(result: object) -> object:
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]
            self._under_way -= 1
            self._next()
            return result

        maybeDeferred(step).addBoth(finished).chainDeferred(done)
