"""
Connections to Redis, with txredisapi on Twisted's reactor.

Two things txredisapi leaves to its user are done here: C{TCP_NODELAY} on
every connection (without it, pipelined appends waited for the previous
acknowledgement: a p50 of 17 ms was measured), and reconnecting within a
second rather than after up to ten (a node cut off from Redis must learn
quickly that it is back, or its lease runs out meanwhile).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import hiredis
import txredisapi  # type: ignore[import-untyped]
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint

CONNECT_TIMEOUT = 5
"""
Seconds a connection to Redis may take to be made.
"""

ConnectionLost = txredisapi.ConnectionError
"""
What a command fails with when its connection is lost before the answer: it
may or may not have been carried out.
"""

Refused = txredisapi.ResponseError
"""
What a command fails with when Redis answers with an error (a script's own).
"""


@dataclass(frozen=True)
class Address:
    """
    Where Redis is: C{redis://HOST:PORT/DB}.
    """

    host: str
    port: int
    db: int

    @classmethod
    def parse(cls, url: str) -> Address:
        """
        The address in C{url}, or L{ValueError} saying what is wrong with it.
        """
        parts = urlsplit(url)
        if parts.scheme != "redis" or not parts.hostname:
            raise ValueError(f"not a redis://HOST:PORT/DB address: {url!r}")
        path = parts.path.strip("/")
        if path and not path.isdigit():
            raise ValueError(f"the database of {url!r} is not a number")
        try:
            port = parts.port or 6379
        except ValueError as e:
            raise ValueError(f"the port of {url!r} is not a number") from e
        return cls(parts.hostname, port, int(path or 0))

    def __str__(self) -> str:
        return f"redis://{self.host}:{self.port}/{self.db}"


class _Protocol(txredisapi.HiredisProtocol):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # hiredis decodes every string of a reply itself, in C: txredisapi
        # would decode them one by one in Python (7 % of a node's time, as
        # it reads the log). What the cluster writes is text (JSON).
        self._reader = hiredis.Reader(
            protocolError=txredisapi.InvalidData,
            replyError=txredisapi.ResponseError,
            encoding="utf-8",
            errors="replace",
        )

    def tryConvertData(self, data: Any) -> Any:
        return data

    def _build_command(self, *args: Any, **kwargs: Any) -> bytes:
        # As txredisapi's, without its two calls and three copies an
        # argument: an append's script call has twenty (a sixth of a
        # node's time paced). Text is UTF-8, as txredisapi's default.
        parts = [b"*%d\r\n" % len(args)]
        for arg in args:
            if type(arg) is str:
                value = arg.encode()
            elif type(arg) is int:
                value = b"%d" % arg
            else:
                value = self._encode_value(arg)
            parts.append(b"$%d\r\n%s\r\n" % (len(value), value))
        return b"".join(parts)

    def connectionMade(self) -> Any:
        self.transport.setTcpNoDelay(True)
        return super().connectionMade()


def connect(reactor: Any, address: Address, blocking: bool = False) -> Deferred[Any]:
    """
    A connection to Redis at C{address} that reconnects by itself: fires
    with txredisapi's handler once connected. Commands given while it is
    reconnecting wait, in order, until it is back.

    @param blocking: a connection for blocking reads (C{XREAD BLOCK}): it
        has no reply timeout, and nothing else is sent on it.
    """
    # Database 0 is every connection's own: no SELECT is sent (txredisapi
    # stops reconnecting for good when one fails, as while Redis loads).
    factory = txredisapi.RedisFactory(
        str(address),
        address.db or None,
        1,
        replyTimeout=None if blocking else 10,
        convertNumbers=False,
    )
    factory.protocol = _Protocol
    factory.initialDelay = 0.05
    factory.maxDelay = 0.5
    factory.startConnecting(
        TCP4ClientEndpoint(reactor, address.host, address.port, timeout=CONNECT_TIMEOUT)
    )
    connected: Deferred[Any] = factory.deferred
    return connected
