"""
A byte stream carrying a connection: TCP, TLS, or a Unix socket.

L{StreamProtocol} is the Twisted protocol of such a transport: it sets the
socket up (no Nagle delay, keepalives), chooses the outflow (straight to the
socket for plain TCP; L{chat.net.backpressure}), hands the bytes it reads to
its connection's dialect, and is the connection's L{Link} for closing. A
transport that is not a byte stream (a WebSocket) carries the same
connection with an adapter of its own.
"""

from __future__ import annotations

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IHalfCloseableProtocol,
    ILoggingContext,
    IProtocol,
    ISSLTransport,
    ITCPTransport,
    ITransport,
)
from twisted.internet.protocol import connectionDone
from twisted.python.failure import Failure
from zope.interface import implementer

from chat.net.backpressure import outflow_for
from chat.net.connection import Connection, budget_for


def describe_peer(address: IAddress) -> str:
    """
    A short, loggable form of a peer address ("host:port" for TCP).
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"{host}:{port}"
    return type(address).__name__


@implementer(IProtocol, IHalfCloseableProtocol, ILoggingContext)
class StreamProtocol:
    """
    The Twisted protocol of a byte stream carrying one L{Connection}.

    It is what Twisted's C{Protocol} is (C{makeConnection} and C{logPrefix}
    are that class's) without deriving from it: C{Protocol} has no slots,
    so each instance had a dictionary besides its slots, 40 bytes a
    connection.
    """

    # One per connection, thousands at once.
    __slots__ = ("_registered", "connected", "connection", "transport")

    def __init__(self, connection: Connection) -> None:
        self.connection = connection
        self.transport: ITransport | None = None
        self.connected = False
        # Whether the outflow is still registered as the transport's producer.
        self._registered = False

    def makeConnection(self, transport: ITransport) -> None:
        self.connected = True
        self.transport = transport
        self.connectionMade()

    def logPrefix(self) -> str:
        return type(self).__name__

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None
        if ITCPTransport.providedBy(transport):
            tcp = ITCPTransport(transport)
            # Without it, a small write waits for the peer's delayed ACK of the
            # previous one: tens of milliseconds of chat latency.
            tcp.setTcpNoDelay(True)
            # So that the kernel notices peers that vanished without a word.
            tcp.setTcpKeepAlive(True)
        service = self.connection.service
        outflow = outflow_for(transport, service.settings.sendq, budget_for(service))
        self._registered = True
        self.connection.opened(self, outflow, getattr(transport.getPeer(), "host", None))

    def dataReceived(self, data: bytes) -> None:
        self.connection.stream(data)

    def readConnectionLost(self) -> None:
        """
        The client closed its sending side (C{nc -N}, C{shutdown(SHUT_WR)})
        and still reads: what it sent is handled, in order, and answered
        before the connection closes.
        """
        connection = self.connection
        connection.ended(connection.stream_ended())

    def writeConnectionLost(self) -> None:
        # The server never closes only its own side.
        pass

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.connection.lost(reason.check(ConnectionDone) is not None)

    # The connection's link.

    @property
    def address(self) -> str:
        assert self.transport is not None
        return describe_peer(self.transport.getPeer())

    @property
    def costly(self) -> bool:
        return ISSLTransport.providedBy(self.transport)

    def write(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def lose(self) -> None:
        transport = self.transport
        assert transport is not None
        if self._registered:
            # A TLS transport does not begin to close while a producer is registered.
            self._registered = False
            IConsumer(transport).unregisterProducer()
        transport.loseConnection()

    def abort(self) -> None:
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]
