"""
The connection every byte-stream front-end is built on.

It is the session's L{chat.core.interfaces.Peer} and the domain's
L{chat.core.interfaces.Participant} at once: a broadcast calls its
C{receive} directly, with no forwarding object in between (one would cost a
seventh of a delivery). What a front-end adds is its dialect: how bytes
become the session's input (C{dataReceived}, C{interpret}) and how events and
replies become bytes (C{encoder}, C{render}).

The write path, which every front-end shares:
 - while the outbox is held (one burst of input being handled), what this
   connection is told is gathered and written once, as one piece;
 - otherwise it goes through the outflow: straight to the socket while
   Twisted holds nothing for it (L{chat.net.backpressure});
 - a client too slow to take what it is sent is dropped, never buffered for.
"""

from __future__ import annotations

from collections.abc import Callable
from weakref import WeakKeyDictionary

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    IHalfCloseableProtocol,
    ISSLTransport,
    ITCPTransport,
)
from twisted.internet.protocol import Protocol, connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

from chat.core.events import Departure, Event, Why
from chat.core.limits import CLOSE_GRACE, HOLD_LIMIT
from chat.core.replies import GOODBYES, Goodbye, Reply
from chat.core.service import ChatService
from chat.core.session import Session
from chat.net.backpressure import Budget, Outflow, outflow_for

Encoder = Callable[[Event], bytes]


def describe_peer(address: IAddress) -> str:
    """
    A short, loggable form of a peer address ("host:port" for TCP).
    """
    host = getattr(address, "host", None)
    port = getattr(address, "port", None)
    if host is not None and port is not None:
        return f"{host}:{port}"
    return type(address).__name__


_BUDGETS: WeakKeyDictionary[ChatService, Budget] = WeakKeyDictionary()


def budget_for(service: ChatService) -> Budget:
    """
    The one budget of bytes waiting for slow clients that every connection
    of C{service} (of every front-end) shares.
    """
    budget = _BUDGETS.get(service)
    if budget is None:
        budget = _BUDGETS[service] = Budget(service.settings.sendq_total)
    return budget


@implementer(IHalfCloseableProtocol)
class StreamConnection(Protocol):
    """
    One client connection: a session, and the bytes to and from it.

    Subclasses set C{home} (the room a user starts in, if any), give
    L{__init__} their encoder, and implement C{dataReceived},
    L{interpret} and L{render}.
    """

    home: str | None = None
    bare_login = False
    # Whether answers told while history is read wait with the live events
    # (an IRC client expects everything in order; a line user would rather
    # see "wait for the history" at once).
    ordered = False
    log = Logger()

    # Thousands of these live at once. Slots keep this class's state out of
    # the instance dict, which then holds only what Twisted's base classes
    # set: small enough for CPython to share its keys between instances
    # (past about 30 attributes it stops, and each dict costs 1.5 KiB).
    __slots__ = (
        "_closing",
        "_encode",
        "_grace",
        "_held",
        "_outbox",
        "_outflow",
        "_pending",
        "service",
        "session",
    )

    def __init__(self, service: ChatService, encoder: Encoder) -> None:
        """
        @param encoder: the front-end kind's encoder, shared by all its
            connections, so that a broadcast is encoded once per kind.
        """
        self.service = service
        self._encode = encoder
        self._outbox = service.outbox
        self._closing = False
        # Set once connected; see chat.net.backpressure.
        self._outflow: Outflow
        self.session: Session
        # What this connection was told while the outbox was held.
        self._pending: list[bytes] = []
        # While stored messages are read, live events wait here, encoded.
        self._held: list[bytes] | None = None
        self._grace: IDelayedCall | None = None

    # Life cycle.

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
        settings = self.service.settings
        self._outflow = outflow_for(transport, settings.sendq, budget_for(self.service))
        address = transport.getPeer()
        self.session = Session(
            self.service,
            self,
            getattr(address, "host", None),
            describe_peer(address),
            self.home,
            bare_login=self.bare_login,
        )
        try:
            self._outbox.batch(self.session.start)
        except Exception:
            # A bug while admitting it: the connection is never let in.
            self.log.failure(
                "Error setting up the connection from {peer}", peer=self.session.address
            )
            self._closing = True
            # The session takes nothing more from it, and the service forgets it.
            self.session.connection_lost(cleanly=False)
            self.abort()

    def readConnectionLost(self) -> None:
        """
        The client closed its sending side (C{nc -N}, C{shutdown(SHUT_WR)})
        and still reads: what it sent is handled, in order, and answered
        before the connection closes.
        """
        self._outbox.batch(lambda: self.session.end_of_input(self.finish_input()))

    def writeConnectionLost(self) -> None:
        # The server never closes only its own side.
        pass

    def finish_input(self) -> list[object]:
        """
        What the input held when it ended (a last line without its line
        ending), as items for the session.
        """
        return []

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._closing = True
        if self._grace is not None and self._grace.active():
            self._grace.cancel()
        self.session.connection_lost(reason.check(ConnectionDone) is not None)

    # What the front-end adds.

    def interpret(self, item: object) -> None:
        """
        Act on one item of input (see L{chat.core.interfaces.Peer.interpret}).
        """
        raise NotImplementedError

    def render(self, reply: Reply) -> bytes:
        """
        C{reply} in this front-end's words.
        """
        raise NotImplementedError

    # The session's peer.

    def receive(self, event: Event) -> None:
        # On every delivery to every recipient: keep it short.
        if self._closing:
            return
        data = self._encode(event)
        if not data:
            return  # nothing this kind of client shows (tags alone, to a line user)
        held = self._held
        if held is not None:
            held.append(data)
            if len(held) > HOLD_LIMIT:
                # The history is late: live events go on rather than wait
                # for it without bound (it will come after them).
                self.release()
        else:
            self._send(data)

    def tell(self, reply: Reply) -> None:
        data = self.render(reply)
        if not data:
            return
        held = self._held
        if held is not None and self.ordered and not isinstance(reply, GOODBYES):
            # While history is read, answers wait with the live events, so
            # that the client sees everything in the order it happened.
            held.append(data)
        else:
            self._send(data)

    def hold(self) -> None:
        self._held = []

    def release(self, first: Reply | None = None) -> None:
        held, self._held = self._held, None
        if self._closing:
            return
        if first is not None:
            data = self.render(first)
            if data:
                self._send(data)
        for data in held or ():
            self._send(data)

    def answered(self) -> None:
        pass

    def removed(self, room: str) -> None:
        self.session.removed(room)

    def disconnect(self, departure: Departure) -> None:
        self.session.thrown_out(departure)

    def refuse(self, goodbye: Goodbye) -> None:
        transport = self.transport
        if ISSLTransport.providedBy(transport):
            # The goodbye would cost a TLS handshake (hundreds a second from
            # one address made honest users wait): the connection is dropped.
            self._closing = True
            self.abort()
        else:
            self.close(goodbye)

    def close(self, goodbye: Goodbye) -> None:
        transport = self.transport
        assert transport is not None
        self.tell(goodbye)
        # What was said before the goodbye goes out before it.
        self.flush()
        if not self._closing:
            # A TLS transport does not begin to close while a producer is registered.
            IConsumer(transport).unregisterProducer()
        self._closing = True
        transport.loseConnection()
        # loseConnection waits until everything is written: a client that
        # does not read would hold the connection open for ever.
        if self._grace is None:
            self._grace = self.service.clock.callLater(CLOSE_GRACE, self.abort)

    def abort(self) -> None:
        assert self.transport is not None
        self.transport.abortConnection()  # type: ignore[attr-defined]

    # The write path.

    def _send(self, data: bytes) -> None:
        # On every write to every recipient: keep it short.
        if self._closing:
            # Said on the way out: Twisted writes it before it closes.
            assert self.transport is not None
            self.transport.write(data)
        elif self._outbox.held:
            pending = self._pending
            if not pending:
                self._outbox.dirty.append(self)
            pending.append(data)
        elif not self._outflow.write(data):
            self._drop()

    def flush(self) -> None:
        """
        Write, as one piece, what this connection was told while the outbox was held.
        """
        pending = self._pending
        if not pending:
            return
        data = pending[0] if len(pending) == 1 else b"".join(pending)
        pending.clear()
        if self._closing:
            # Dropped meanwhile: nobody is there to read it.
            return
        if not self._outflow.write(data):
            self._drop()

    def _drop(self) -> None:
        """
        Cut a client that is too slow to keep up, at once.
        """
        self.session.dropped(Departure(Why.TOO_SLOW))
        self._closing = True
        self.abort()
