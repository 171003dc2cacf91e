"""
Password hashes, taken in turn: each is about 50 ms of a core and 16 MiB
(scrypt at L{chat.core.limits.PASSWORD_COST}), run in the reactor's thread
pool, which every login waits on.

At most L{HASHES_AT_ONCE} are under way in all, and L{HASHES_PER_HOST} for
one address; of those waiting, the next is one of the address that has
hashed least lately (the most of its allowance left), the oldest first among
equals. So an address that seldom hashes (someone logging in) is hashed as
soon as one under way is done, however many addresses keep the others busy:
with first come, first served, a login waited behind every address's
hashes, 0.7 s with 16 of them looping.
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

    def __init__(self, left: Callable[[str], float]) -> None:
        """
        @param left: how much of its allowance of hashes an address has
            left (L{math.inf} if none applies): the most goes first.
        """
        self._left = left
        self._running: Counter[str] = Counter()
        self._under_way = 0
        self._waiting: dict[str, deque[_Waiting]] = {}
        self._arrivals = 0

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
            key = max(ready, key=lambda k: (self._left(k), -self._waiting[k][0][0]))
            queue = self._waiting[key]
            _, step, done = queue.popleft()
            if not queue:
                del self._waiting[key]
            self._start(key, step, done)

    def _start(self, key: str, step: Callable[[], Deferred[Any]], done: Deferred[Any]) -> None:
        self._running[key] += 1
        self._under_way += 1

        def finished(result: object) -> object:
            self._running[key] -= 1
            if not self._running[key]:
                del self._running[key]
            self._under_way -= 1
            self._next()
            return result

        maybeDeferred(step).addBoth(finished).chainDeferred(done)
