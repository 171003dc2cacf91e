"""
The connection every door is built on, whatever carries it.

It is the session's L{chat.core.interfaces.Peer} and the chat's
L{chat.core.interfaces.Participant} at once: a broadcast calls its
C{receive} directly, with no forwarding object in between (one would cost a
seventh of a delivery). A door's dialect subclasses it and adds how input
becomes the session's calls (L{Connection.interpret}) and how replies read
(L{Connection.render}); the events' encoder is the door kind's, shared.

What carries it is a L{Link} and an L{Outflow}: a byte stream
(L{chat.net.stream}: TCP, TLS, a Unix socket) or a message-based transport
(a WebSocket carrying one IRC line per frame) give the same connection its
input with L{Connection.received} and take its output through the outflow.

The write path, which every door shares:
 - while the outbox is held (one burst of input being handled), what this
   connection is told is gathered and written once, as one piece;
 - otherwise it goes through the outflow: for TCP, straight to the socket
   while Twisted holds nothing for it (L{chat.net.backpressure});
 - a client too slow to take what it is sent is dropped, never buffered for.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Protocol
from weakref import WeakKeyDictionary, ref

from twisted.internet.interfaces import IDelayedCall
from twisted.logger import Logger

from chat.core.events import Departure, Event, Why
from chat.core.goodbyes import GOODBYES, Goodbye
from chat.core.limits import CLOSE_GRACE, HOLD_LIMIT
from chat.core.replies import Reply
from chat.core.service import ChatService
from chat.core.session import Session
from chat.net.backpressure import Budget, Outflow
from chat.net.encoding import Encoder


class Link(Protocol):
    """
    What a connection needs of the transport that carries it, beside its outflow.
    """

    @property
    def address(self) -> str:
        """
        The peer as it is logged ("host:port"), made when it is asked for:
        a string kept for each connection would cost every idle one its
        bytes, for the few lines logged about it.
        """

    @property
    def costly(self) -> bool:
        """
        Whether saying goodbye to a connection never admitted would cost
        much (a TLS handshake): then it is dropped instead.
        """

    def write(self, data: bytes) -> None:
        """
        Send C{data} as the connection closes (its outflow is done with).
        """

    def lose(self) -> None:
        """
        Close once everything written is sent.
        """

    def abort(self) -> None:
        """
        Close at once, written or not.
        """


class _GoneLink:
    """
    The link of a connection whose transport has gone: nothing more leaves,
    and nothing refers to the transport any more; the peer's address is
    still there for what is logged about it.
    """

    __slots__ = ("address",)

    costly = False

    def __init__(self, address: str) -> None:
        self.address = address

    def write(self, data: bytes) -> None:
        pass

    def lose(self) -> None:
        pass

    def abort(self) -> None:
        pass


class _GoneOutflow:
    """
    The outflow of a connection whose transport has gone: nothing is written.
    """

    __slots__ = ()

    idle = None

    def write(self, data: bytes) -> bool:
        return False

    def queue(self, data: bytes) -> bool:
        return False

    def take(self, pending: bytes | list[bytes]) -> bool:
        return False

    def stopProducing(self) -> None:
        pass


GONE_OUTFLOW = _GoneOutflow()


class Burst:
    """
    What one burst of input made the server tell the connections of one
    service (every door's), written at the end of the burst in one pass.

    The service's L{chat.core.outbox.Outbox} is held while a burst is
    handled; the first time a connection is told something in it, the
    connection joins L{waiting}, and the burst joins the outbox's list of
    what to flush. When the outbox lets go, L{flush} writes each waiting
    connection's bytes in one loop, as one piece each: a message at a paced
    rate, which each recipient is sent alone, costs a recipient no call of
    its own on the way out.

    @ivar budget: what may wait, in all, for every slow client of the service.
    """

    __slots__ = ("_service", "budget", "outbox", "waiting")

    log = Logger()

    def __init__(self, service: ChatService) -> None:
        # Weakly: the burst is the service's value in _BURSTS, whose key a
        # value must not hold, or neither would ever be let go.
        self._service = ref(service)
        self.outbox = service.outbox
        self.budget = Budget(service.settings.sendq_total, service.clock)
        self.waiting: list[Connection] = []

    @property
    def service(self) -> ChatService:
        service = self._service()
        assert service is not None, "a connection outlived its service"
        return service

    def flush(self) -> None:
        waiting, self.waiting = self.waiting, []
        for connection in waiting:
            # A bug while writing to one connection must not leave the
            # others with output no burst will write (try costs nothing
            # until something is raised).
            try:
                # What Connection.flush does, without a call each. A
                # connection closed meanwhile has written its bytes already
                # (or been dropped).
                pending = connection._pending
                if pending is None:
                    continue
                connection._pending = None
                if connection._closing:
                    continue
                outflow = connection._outflow
                idle = outflow.idle
                if idle is None:
                    # Not a socket to write to directly: the outflow takes
                    # the pieces as they are (a WebSocket's frames each
                    # broadcast once for all its recipients).
                    if not outflow.take(pending):
                        connection.drop()
                    continue
                data: bytes = b"".join(pending) if type(pending) is list else pending  # type: ignore[assignment]
                # What DirectOutflow.write does, repeated here: calling it
                # cost each delivery at a paced rate 370 instructions more.
                try:
                    sent = os.write(idle, data)
                except OSError:
                    sent = 0
                if sent == len(data):
                    continue
                if not outflow.queue(data[sent:]):
                    connection.drop()
            except Exception:
                self.log.failure("Error writing to {peer}", peer=connection.address)


_BURSTS: WeakKeyDictionary[ChatService, Burst] = WeakKeyDictionary()


def burst_for(service: ChatService) -> Burst:
    """
    The one L{Burst} that every connection of C{service} (of every door) shares.
    """
    burst = _BURSTS.get(service)
    if burst is None:
        burst = _BURSTS[service] = Burst(service)
    return burst


def budget_for(service: ChatService) -> Budget:
    """
    The one budget of bytes waiting for slow clients that every connection
    of C{service} (of every door) shares.
    """
    return burst_for(service).budget


class Connection:
    """
    One client, whatever carries it: a session, and what goes to and from it.

    Subclasses (a door's dialect) set C{home} (the room a user starts in, if
    any), give L{__init__} their encoder, and implement L{interpret} and
    L{render}; one that can be carried by a byte stream also implements
    L{stream}.
    """

    home: str | None = None
    bare_login = False
    replays = True
    # Whether answers told while history is read wait with the live events
    # (an IRC client expects everything in order; a line user would rather
    # see "wait for the history" at once).
    ordered = False
    log = Logger()

    # Thousands of these live at once: slots keep each small.
    __slots__ = (
        "_burst",
        "_closing",
        "_encoder",
        "_grace",
        "_held",
        "_outflow",
        "_pending",
        "link",
        "session",
    )

    def __init__(self, service: ChatService, encoder: Encoder) -> None:
        """
        @param encoder: the door kind's encoder, shared by all its
            connections, so that a broadcast is encoded once per kind.
        """
        # The service is reached through the burst: one slot, not two.
        self._burst = burst_for(service)
        self._encoder = encoder
        self._closing = False
        # Set once carried; see chat.net.backpressure.
        self.link: Link
        self._outflow: Outflow
        self.session: Session
        # What this connection was told while the outbox was held: nothing
        # (most connections, idle), one piece (a message at a paced rate:
        # no list made for it), or the pieces of a burst.
        self._pending: bytes | list[bytes] | None = None
        # While stored messages are read, live events wait here, encoded.
        self._held: list[bytes] | None = None
        self._grace: IDelayedCall | None = None

    @property
    def service(self) -> ChatService:
        return self._burst.service

    @property
    def address(self) -> str:
        return self.link.address

    # Life cycle, as the transport tells it.

    def opened(self, link: Link, outflow: Outflow, host: str | None) -> None:
        """
        The transport is up: C{host} is the peer's address (L{None}: not an
        IP connection), for limits and bans.
        """
        self.link = link
        self._outflow = outflow
        self.session = Session(self.service, self, host)
        try:
            self._burst.outbox.batch(self.session.start)
        except Exception:
            # A bug while admitting it: the connection is never let in.
            self.log.failure(
                "Error setting up the connection from {peer}", peer=self.session.address
            )
            self._closing = True
            # The session takes nothing more from it, and the service forgets it.
            self.session.connection_lost(cleanly=False)
            self.abort()

    def received(self, items: Sequence[object]) -> None:
        """
        Input, as items for the session (lines, for both dialects today);
        what they make the server say is written once they are all handled.
        """
        self._burst.outbox.batch(lambda: self.session.feed(items))

    def ended(self, last: Sequence[object] = ()) -> None:
        """
        The client will send nothing more (C{last}: what remained): what it
        sent is handled, in order, and answered before the connection closes.
        """
        self._burst.outbox.batch(lambda: self.session.end_of_input(last))

    def lost(self, cleanly: bool) -> None:
        """
        The transport has gone (C{cleanly}: closed rather than broken).

        The connection then lets go of it: the session and this connection
        refer to each other, so they wait for a full garbage collection,
        which may not come for hours; the transport must not wait with them,
        since it holds what was buffered for the client (up to C{--sendq}
        and 64 KiB: 1 000 clients dropped for not reading held 256 MiB).
        """
        self._closing = True
        if self._grace is not None and self._grace.active():
            self._grace.cancel()
        self._grace = None
        self.session.connection_lost(cleanly)
        self.link = _GoneLink(self.link.address)
        self._outflow = GONE_OUTFLOW

    # What the dialect adds.

    def stream(self, data: bytes) -> None:
        """
        Bytes from a byte stream: frame them into items and hand them to
        L{received}. Only dialects a byte stream can carry implement it.
        """
        raise NotImplementedError

    def stream_ended(self) -> list[object]:
        """
        What the byte stream held when it ended (a last line without its
        line ending), as items for the session.
        """
        return []

    def interpret(self, item: object) -> None:
        """
        Act on one item of input (see L{chat.core.interfaces.Peer.interpret}).
        """
        raise NotImplementedError

    def render(self, reply: Reply) -> bytes:
        """
        C{reply} in this dialect's words.
        """
        raise NotImplementedError

    # The session's peer.

    def receive(self, event: Event) -> None:
        # On every delivery to every recipient, so it is written out in
        # full: each call saved here is saved a million times a second.
        if self._closing:
            return
        encoder = self._encoder
        # Every recipient of a broadcast but the first of its kind finds
        # the bytes made already.
        data = encoder.line if event is encoder.event else encoder(event)
        if not data:
            return  # nothing this kind of client shows (tags alone, to a line user)
        if self._held is not None:
            self._hold(data)
            return
        burst = self._burst
        if burst.outbox.held:
            # What _send does, repeated here: calling it cost each
            # delivery at a paced rate 490 instructions more (callgrind).
            pending = self._pending
            if pending is None:
                self._pending = data
                waiting = burst.waiting
                if not waiting:
                    burst.outbox.dirty.append(burst)
                waiting.append(self)
            elif type(pending) is list:
                pending.append(data)
            else:
                self._pending = [pending, data]  # type: ignore[list-item]
        elif not self._outflow.write(data):
            self.drop()

    def _hold(self, data: bytes) -> None:
        """
        Keep a live event until the stored messages being read have been sent.
        """
        held = self._held
        assert held is not None
        held.append(data)
        if len(held) > HOLD_LIMIT:
            # The history is late: live events go on rather than wait
            # for it without bound (it will come after them).
            self.release()

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

    def answering(self) -> None:
        pass

    def answered(self, more: bool = False) -> None:
        pass

    def removed(self, room: str) -> None:
        self.session.removed(room)

    def disconnect(self, departure: Departure) -> None:
        self.session.thrown_out(departure)

    def refuse(self, goodbye: Goodbye) -> None:
        if self.link.costly:
            # The goodbye would cost a TLS handshake (hundreds a second from
            # one address made honest users wait): the connection is dropped.
            self._closing = True
            self.abort()
        else:
            self.close(goodbye)

    def close(self, goodbye: Goodbye) -> None:
        self.tell(goodbye)
        # What was said before the goodbye goes out before it.
        self.flush()
        self._closing = True
        # What is still said goes through the link. The outflow, which
        # Twisted will not tell when the socket closes (closing unregisters
        # it), is stopped and let go here: what waited for this client
        # stops counting against the server's budget, and nothing can
        # write to the socket's descriptor after it is closed.
        outflow, self._outflow = self._outflow, GONE_OUTFLOW
        outflow.stopProducing()
        self.link.lose()
        # Closing waits until everything is written: a client that does
        # not read would hold the connection open for ever.
        if self._grace is None:
            self._grace = self.service.clock.callLater(CLOSE_GRACE, self.abort)

    def abort(self) -> None:
        self.link.abort()

    # The write path.

    def _send(self, data: bytes) -> None:
        # On every write to every recipient: keep it short.
        if self._closing:
            # Said on the way out: the transport writes it before it closes.
            self.link.write(data)
        elif (burst := self._burst).outbox.held:
            # A lone message (a paced rate) is kept as it is: no list made
            # and dropped for each delivery. The test is type(), which
            # CPython does without a call; isinstance() and __class__ cost
            # each delivery in a burst 190 and 110 instructions more.
            pending = self._pending
            if pending is None:
                self._pending = data
                waiting = burst.waiting
                if not waiting:
                    burst.outbox.dirty.append(burst)
                waiting.append(self)
            elif type(pending) is list:
                pending.append(data)
            else:
                self._pending = [pending, data]  # type: ignore[list-item]
        elif not self._outflow.write(data):
            self.drop()

    def flush(self) -> None:
        """
        Write, as one piece, what this connection was told while the outbox was held.
        """
        pending = self._pending
        if pending is None:
            return
        self._pending = None
        data: bytes = b"".join(pending) if type(pending) is list else pending  # type: ignore[assignment]
        if self._closing:
            # Dropped meanwhile: nobody is there to read it.
            return
        if not self._outflow.write(data):
            self.drop()

    def drop(self) -> None:
        """
        Cut a client that is too slow to keep up, at once.
        """
        self.session.dropped(Departure(Why.TOO_SLOW))
        self._closing = True
        self.abort()
