"""
Rate limits: token buckets, and the limits a server applies with them.

A bucket holds up to C{burst} tokens and gains C{rate} a second; each action
takes one. So a user may paste C{burst} lines at once, then go on at C{rate}
lines a second, and is never slowed while typing by hand.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from twisted.internet.interfaces import IReactorTime


def address_group(host: str | None) -> str:
    """
    What per-address limits count C{host} as: an IPv4 address itself (also
    written as IPv4-mapped IPv6), an IPv6 address by its /64, since one
    machine or home is given a whole /64 and could use a new address per
    connection.
    """
    if host is None:
        return ""
    if ":" not in host:
        return host
    try:
        address = ipaddress.IPv6Address(host.split("%", 1)[0])
    except ValueError:
        return host
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


@dataclass(frozen=True, slots=True)
class Rate:
    """
    A limit: C{rate} actions a second, with bursts of up to C{burst}.
    """

    rate: float
    burst: int

    @classmethod
    def parse(cls, text: str) -> Rate | None:
        """
        C{"RATE/BURST"} (C{"5/20"}), or L{None} for C{"off"}.

        @raise ValueError: for anything else.
        """
        if text.strip().lower() == "off":
            return None
        rate, slash, burst = text.partition("/")
        if not slash:
            raise ValueError(f"expected RATE/BURST or off, not {text!r}")
        limit = cls(float(rate), int(burst))
        if limit.rate <= 0 or limit.burst < 1:
            raise ValueError(f"RATE must be above 0 and BURST at least 1 in {text!r}")
        return limit

    def __str__(self) -> str:
        return f"{self.rate:g}/{self.burst}"


class TokenBucket:
    """
    One bucket, on a clock.
    """

    __slots__ = ("clock", "limit", "stamp", "tokens")

    def __init__(self, limit: Rate, clock: IReactorTime) -> None:
        self.limit = limit
        self.clock = clock
        self.tokens = float(limit.burst)
        self.stamp = clock.seconds()

    def available(self) -> bool:
        """
        Whether a token could be taken now (none is).
        """
        return self._refill() >= 1

    def _refill(self) -> float:
        now = self.clock.seconds()
        self.tokens = min(self.limit.burst, self.tokens + (now - self.stamp) * self.limit.rate)
        self.stamp = now
        return self.tokens

    def wait(self) -> float:
        """
        Seconds until a token can be taken (0 if one can now).
        """
        return max(0.0, (1 - self._refill()) / self.limit.rate)

    def charge(self, tokens: int) -> None:
        """
        Take C{tokens} at once, going into debt if need be: what is asked
        after it waits until the debt is paid.
        """
        self._refill()
        self.tokens -= tokens

    def full(self) -> bool:
        """
        Whether the bucket has its whole burst again (it may be forgotten).
        """
        return self._refill() >= self.limit.burst

    def give_back(self) -> None:
        """
        Return a token taken for an action that did not happen.
        """
        self.tokens = min(float(self.limit.burst), self.tokens + 1)

    def take(self) -> bool:
        """
        Take a token if there is one; L{False} means the action is over the limit.
        """
        if self._refill() >= 1:
            self.tokens -= 1
            return True
        return False


class Quieted:
    """
    Something said at most once every C{period} seconds per key (a log line
    under a flood), with a count of the times it was not.
    """

    __slots__ = ("_last", "clock", "period")

    def __init__(self, period: float, clock: IReactorTime) -> None:
        self.period = period
        self.clock = clock
        self._last: dict[str, tuple[float, int]] = {}

    def due(self, key: str) -> int | None:
        """
        L{None} if C{key}'s line is not to be said now (and it is counted);
        otherwise how many times it was not since it last was.
        """
        now = self.clock.seconds()
        found = self._last.get(key)
        if found is not None and now - found[0] < self.period:
            self._last[key] = (found[0], found[1] + 1)
            return None
        if len(self._last) > 10_000:
            # Many keys (an attacker's): forgetting them costs only a line each.
            self._last.clear()
        self._last[key] = (now, 0)
        return found[1] if found is not None else 0


@dataclass(frozen=True, slots=True)
class Limits:
    """
    The rate limits of a server; L{None} switches one off.

    @ivar lines: every line a connection sends.
    @ivar nick_changes: C{/nick} after login, per connection.
    @ivar joins: C{/join}, per connection.
    @ivar failed_logins: wrong passwords, per nickname (from any address).
    @ivar failed_logins_per_host: wrong passwords, per address (for any
        nickname): higher, since several people may share an address.
    @ivar registrations: new registrations, per address.
    @ivar connections: new connections, per address (IPv6: per /64).
    """

    lines: Rate | None = None
    nick_changes: Rate | None = None
    joins: Rate | None = None
    failed_logins: Rate | None = None
    failed_logins_per_host: Rate | None = None
    registrations: Rate | None = None
    connections: Rate | None = None


NONE = Limits()
"""
No rate limits at all: for embedding, tests and benchmarks.
"""

HUMAN = Limits(
    lines=Rate(5, 20),
    nick_changes=Rate(1 / 10, 3),
    joins=Rate(1 / 2, 5),
    failed_logins=Rate(1 / 60, 10),
    failed_logins_per_host=Rate(1 / 20, 30),
    registrations=Rate(1 / 20, 30),
    connections=Rate(1, 12),
)
"""
What twistd chat applies by default: far above what a person types or pastes.
"""
