"""
The write side of a connection: gathering what the server says, writing it
cheaply, and noticing a client that does not read before it costs the server
its memory.

Two pieces (the third, L{chat.core.outbox.Outbox}, gathers what is said
while one burst of input is handled, so that each is written once):

 - L{DirectOutflow}, for plain TCP and Unix sockets: a write goes straight to
   the socket when Twisted holds nothing for it. Twisted's own C{write} only
   buffers and registers write interest with the poller; the bytes go out on
   the next reactor turn, and the interest is removed again once they have. For
   a chat line to 100 people that is 200 C{epoll_ctl} calls and 100 trips
   through the reactor's write machinery, where one C{send} each would do.
   Whatever the kernel does not take is handed to Twisted's buffer as usual,
   and later writes queue behind it until Twisted says the buffer is empty, so
   order is kept.
 - L{SendQueue}, for every other transport (TLS above all, whose bytes must go
   through the TLS layer): Twisted's buffering, with the streaming-producer
   signals counting what a client that stopped reading is owed.

Both outflows drop a client (C{write} returns L{False}) once more than their
limit plus Twisted's 64 KiB would wait for it in the server, or once what
waits for all clients together would pass the server's L{Budget};
C{loseConnection} would wait for the buffer to drain, which a client that
never reads never lets happen, so the drop is an abort. Once enough of what
waited for clients that are gone has been freed, the L{Budget} has the C
library return the free memory to the system.
"""

from __future__ import annotations

import ctypes
import os
from collections.abc import Callable
from typing import Protocol

from twisted.internet.interfaces import (
    IConsumer,
    IDelayedCall,
    IPullProducer,
    IPushProducer,
    IReactorTime,
    ITransport,
)
from twisted.internet.tcp import Connection
from zope.interface import implementer

from chat.core.limits import GIVE_BACK_AFTER, GIVE_BACK_DELAY

TWISTED_BUFFER = 64 * 1024
"""
What a Twisted transport buffers before it pauses its producer.
"""


def _malloc_trim() -> Callable[[], object] | None:
    """
    glibc's C{malloc_trim(0)}, which returns the free memory of every heap
    to the system, or L{None} where the C library has none (musl, macOS).
    """
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes = (ctypes.c_size_t,)
    trim.restype = ctypes.c_int
    return lambda: trim(0)


RETURN_FREE_MEMORY = _malloc_trim()
"""
How this process returns its free memory to the system, if it can.
"""


class Budget:
    """
    What may wait, in all, for every client behind: 1 000 clients that never
    read could otherwise hold a gigabyte between them, each within its own
    send queue. A client whose write would pass it is dropped. Only bytes
    that wait are counted (a write the kernel takes at once costs nothing).

    Given a clock, it also has the memory that waited returned to the
    system once L{GIVE_BACK_AFTER} bytes of it have been dropped, unwritten,
    with their clients (L{GIVE_BACK_DELAY} later): the C library keeps what
    is freed for itself, and what 1 000 clients that never read were owed
    would otherwise stay with the server after they are gone. What a client
    that reads slowly catches up on does not count: the server allocates as
    much again for what it sends next, and returning it (tens of
    milliseconds of the reactor) would only have it taken back.

    The return is made on the reactor thread. Made in another (glibc's
    C{malloc_trim} is thread-safe, and ctypes lets go of the GIL), it
    stalls the reactor thread nearly as long: glibc holds the lock of the
    heap it trims, which is the one the reactor thread allocates from
    (measured in-process: 29 to 33 ms of a 33 to 38 ms return of 180 MB).
    """

    __slots__ = ("_clock", "_due", "_freed", "limit", "used")

    def __init__(self, limit: int, clock: IReactorTime | None = None) -> None:
        self.limit = limit
        self.used = 0
        self._clock = clock
        self._freed = 0
        self._due: IDelayedCall | None = None

    def take(self, size: int) -> bool:
        if self.used + size > self.limit:
            return False
        self.used += size
        return True

    def give_back(self, size: int) -> None:
        """
        C{size} bytes no longer wait: their client took them.
        """
        self.used -= size

    def drop(self, size: int) -> None:
        """
        C{size} bytes no longer wait, unwritten: their client is gone
        (dropped for not reading, or it left).
        """
        self.used -= size
        self._freed += size
        if self._freed >= GIVE_BACK_AFTER and self._due is None and self._clock is not None:
            self._due = self._clock.callLater(GIVE_BACK_DELAY, self._returned)

    def _returned(self) -> None:
        self._due = None
        self._freed = 0
        if RETURN_FREE_MEMORY is not None:
            RETURN_FREE_MEMORY()


UNLIMITED = Budget(2**62)
"""
No overall limit (each client's own send queue still holds).
"""


class Outflow(Protocol):
    """
    How a connection's bytes leave the server.
    """

    @property
    def idle(self) -> int | None:
        """
        The socket's file descriptor while a write may go straight to it
        (nothing waits for it in the server), for a caller that writes many
        connections in one loop: it writes what the socket takes with
        C{os.write} and hands the rest to L{queue}. L{None} from before
        the socket is closed, so a descriptor reused for another
        connection is never written to for this one.
        """

    def write(self, data: bytes) -> bool:
        """
        Send C{data}, or queue it behind what waits already. L{False}, with
        nothing written, when the client is too far behind to be sent more.
        """

    def queue(self, data: bytes) -> bool:
        """
        Queue C{data}, what the socket did not take of a write, behind what
        waits already; L{False} as L{write} says.
        """

    def take(self, pending: bytes | list[bytes]) -> bool:
        """
        Send what a burst told the connection, one piece or a list of them
        (while L{idle} is L{None}); L{False} as L{write} says.
        """

    def stopProducing(self) -> None:
        """
        The connection is gone or closing: what waits for it no longer
        counts against the server's budget, and nothing more is written
        straight to its socket.
        """


def outflow_for(transport: ITransport, limit: int, budget: Budget = UNLIMITED) -> Outflow:
    """
    The outflow for C{transport}, registered with it as its producer.

    Only Twisted's own TCP (and Unix) connections are written to directly: any
    other transport, a TLS one above all, may transform what it is given.
    """
    if isinstance(transport, Connection):
        direct = DirectOutflow(transport, limit, budget)
        transport.registerProducer(direct, False)
        return direct
    queue = SendQueue(transport, limit, budget)
    IConsumer(transport).registerProducer(queue, True)
    return queue


@implementer(IPullProducer)
class DirectOutflow:
    """
    Writes to the socket itself while Twisted holds nothing for it.

    A pull producer, because Twisted tells a pull producer each time its
    buffer has drained (C{resumeProducing}): from then on writes may go
    straight to the socket again. It never asks a push producer that.

    @ivar idle: the socket's file descriptor while Twisted's buffer is
        empty, so a write may go to it; L{None} while it is not, and from
        before the socket is closed (Twisted stops its producer first; a
        connection that closes itself lets go of its outflow first).
    @ivar backlog: bytes handed to Twisted since its buffer was last empty.

    The write is C{os.write} on the descriptor, not the socket's C{send}:
    the same system call for a stream socket, and 450 instructions less
    a write in CPython (no argument tuple to build and parse).
    """

    __slots__ = ("_budget", "_transport", "backlog", "idle", "limit")

    def __init__(self, transport: Connection, limit: int, budget: Budget = UNLIMITED) -> None:
        self._transport = transport
        self.idle: int | None = transport.fileno()
        self._budget = budget
        # The server's setting itself (one int for all its connections): the
        # room Twisted's buffer adds is counted where it is needed, rarely.
        self.limit = limit
        self.backlog = 0

    def write(self, data: bytes) -> bool:
        idle = self.idle
        if idle is not None:
            try:
                sent = os.write(idle, data)
            except OSError:
                # The kernel's buffer is full (BlockingIOError), or the
                # connection is broken: then Twisted finds out on its own
                # write and closes it the usual way.
                sent = 0
            if sent == len(data):
                return True
            data = data[sent:]
        return self.queue(data)

    def queue(self, data: bytes) -> bool:
        if self.idle is not None:
            # From now on every write queues behind this one until Twisted
            # says its buffer is empty.
            self.idle = None
            self.backlog = 0
        size = len(data)
        if self.backlog + size > self.limit + TWISTED_BUFFER or not self._budget.take(size):
            return False
        self.backlog += size
        self._transport.write(data)
        return True

    def take(self, pending: bytes | list[bytes]) -> bool:
        return self.write(b"".join(pending) if type(pending) is list else pending)  # type: ignore[arg-type]

    def resumeProducing(self) -> None:
        # Twisted's buffer is empty (or the producer was just registered).
        self.idle = self._transport.fileno()
        self._budget.give_back(self.backlog)
        self.backlog = 0

    def stopProducing(self) -> None:
        # The connection is gone: what waited for it waits no more.
        self.idle = None
        self._budget.drop(self.backlog)
        self.backlog = 0


@implementer(IPushProducer)
class SendQueue:
    """
    Twisted's buffering, and a count of what waits for a client that stopped reading.

    The transport pauses its streaming producer once its buffer passes 64 KiB
    and resumes it when the buffer has drained; what is written in between is
    counted against the limit. A separate object, not the protocol itself:
    C{LineReceiver}'s own C{pauseProducing} pauses I{reading}, and a chat server
    must go on reading (a C{/quit}, say) from a client that is slow to read.
    """

    __slots__ = ("_budget", "_transport", "backlog", "limit", "paused")

    # Every write goes through Twisted's (and the TLS layer's) buffer.
    idle = None

    def __init__(self, transport: ITransport, limit: int, budget: Budget = UNLIMITED) -> None:
        self._transport = transport
        self._budget = budget
        self.limit = limit
        self.paused = False
        self.backlog = 0

    def write(self, data: bytes) -> bool:
        if self.paused:
            if self.backlog + len(data) > self.limit or not self._budget.take(len(data)):
                return False
            self.backlog += len(data)
        self._transport.write(data)
        return True

    def queue(self, data: bytes) -> bool:
        return self.write(data)

    def take(self, pending: bytes | list[bytes]) -> bool:
        return self.write(b"".join(pending) if type(pending) is list else pending)  # type: ignore[arg-type]

    def pauseProducing(self) -> None:
        # Twisted calls this again on every write while the buffer is full:
        # only the first call starts the count.
        if not self.paused:
            self.paused = True
            self.backlog = 0

    def resumeProducing(self) -> None:
        self.paused = False
        self._budget.give_back(self.backlog)
        self.backlog = 0

    def stopProducing(self) -> None:
        self.paused = True
        self._budget.drop(self.backlog)
        self.backlog = 0
