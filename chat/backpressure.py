"""
Noticing a client that does not read, before it costs the server its memory.

The transport pauses its registered streaming producer once its write buffer
passes 64 KiB, and resumes it when the buffer has drained. L{SendQueue} is that
producer: it only records whether the client is keeping up and how much has
been written to it since it stopped. The protocol drops the client once that
passes the limit, so a connection never holds more than about the limit plus
the transport's 64 KiB. (C{loseConnection} would wait for the buffer to drain,
which a client that never reads never lets happen: the drop is an abort.)
"""

from __future__ import annotations

from twisted.internet.interfaces import IPushProducer
from zope.interface import implementer

DEFAULT_LIMIT = 1024 * 1024
"""
1 MiB: a client far behind, yet room for bursts. Twisted writes a reactor
turn's output to the socket only after the turn, so everything said in one
turn (up to 64 KiB read from each sender) is buffered at once, for every
recipient, before any of it can reach even the fastest reader.
"""


@implementer(IPushProducer)
class SendQueue:
    """
    The write-side state of one connection.

    A separate object, not the protocol itself: C{LineReceiver}'s own
    C{pauseProducing} pauses I{reading}, and a chat server must go on reading
    (a C{/quit}, say) from a client that is slow to read.
    """

    __slots__ = ("backlog", "limit", "paused")

    def __init__(self, limit: int = DEFAULT_LIMIT) -> None:
        self.limit = limit
        self.paused = False
        self.backlog = 0

    def pauseProducing(self) -> None:
        # Twisted calls this again on every write while the buffer is full:
        # only the first call starts the count.
        if not self.paused:
            self.paused = True
            self.backlog = 0

    def resumeProducing(self) -> None:
        self.paused = False
        self.backlog = 0

    def stopProducing(self) -> None:
        self.paused = True

    def over(self, size: int) -> bool:
        """
        Count C{size} more bytes for the client; L{True} once, while it is not
        reading, more than the limit is waiting for it.
        """
        if not self.paused:
            return False
        self.backlog += size
        return self.backlog > self.limit
