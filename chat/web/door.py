"""
The web door: a page, and a WebSocket carrying IRC, on one port.

C{twistd chat --web tcp:8080} listens with a L{WebDoor}. Each connection
begins as HTTP, which Twisted's web server parses (L{WebProtocol} holds its
channel): a plain C{GET} is answered with the page (L{chat.web.page}), and
a request to upgrade becomes a WebSocket (L{chat.web.handshake}) at any path,
as IRC web clients expect (C{ws://host:port/}). From then on the same
connection is the IRC dialect (L{chat.irc.connection.IRCConnection}, the
IRC door's own class, verbs and encoders) carried by WebSocket frames
(L{chat.web.frames}) instead of lines: the door adds a transport, not a
copy of IRC.

What leaves is written as every door writes (L{chat.net.backpressure}),
through a L{FramedOutflow}: each IRC line becomes one frame, and the frames
of a broadcast are made once for all its recipients of one kind.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from twisted.internet.error import ConnectionDone
from twisted.internet.interfaces import (
    IAddress,
    IConsumer,
    IDelayedCall,
    ITCPTransport,
    ITransport,
)
from twisted.internet.protocol import connectionDone
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.http import HTTPChannel
from twisted.web.http import Request as HTTPRequest
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from chat.core.limits import address_group
from chat.core.service import ChatService
from chat.irc.connection import MAX_LINE_BYTES, IRCConnection
from chat.irc.protocol import IRCFactory
from chat.net.backpressure import Outflow, outflow_for
from chat.net.connection import budget_for
from chat.net.framing import TOO_LONG, TooLong
from chat.net.stream import StreamProtocol, describe_peer
from chat.web import frames as f
from chat.web.handshake import BINARY_IRC, Network, Refused, accept, client_address, trusted
from chat.web.page import Page

OPEN, DEAF, CLOSED, REFUSED = 0, 1, 2, 3

HTTP_PER_ADDRESS = 4
"""
How many HTTP connections (not yet WebSockets) one address may hold open,
in multiples of C{--max-per-ip}: a browser keeps a few open for a while
after loading a page, and a classroom behind one NAT loads it at once; an
address holding more (idle sockets, to use up the server's descriptors) has
the next refused before a byte of HTTP is read.
"""

HTTP_TIMEOUT = 30
"""
Seconds an HTTP connection may stay silent before it is closed (a WebSocket
is the IRC door's to time out, with its PINGs).
"""

HTTP_LIFETIME = 120
"""
Seconds an HTTP connection may last, however it trickles, if it has not
become a WebSocket: a client that sends a byte of its headers every 29
seconds is never silent, and would otherwise hold its place for ever.
"""

MESSAGE_LIMIT = MAX_LINE_BYTES + 2
"""
The longest WebSocket message taken: one IRC line (tags and all), and the
CRLF a client may end it with although it need not.
"""


_NORMAL_CLOSE = (f.NORMAL, "")

REFUSAL_LOG_EVERY = 10.0
"""
Seconds between two log lines about one address's refused connections.
"""


class FramedOutflow:
    """
    A connection's outflow under a WebSocket: what the IRC dialect writes
    (lines ending in CRLF) goes to the socket's own outflow as one frame a
    line.

    It never offers the socket's descriptor (L{idle} is L{None}): the bytes
    the dialect hands it are not yet what the socket carries.
    """

    __slots__ = ("framer", "inner")

    idle = None

    def __init__(self, inner: Outflow, framer: f.Framer) -> None:
        self.inner = inner
        self.framer = framer

    def write(self, data: bytes) -> bool:
        return self.inner.write(self.framer(data))

    def queue(self, data: bytes) -> bool:
        # Nothing of it was written: the socket's outflow may still write it straight away.
        return self.inner.write(self.framer(data))

    def take(self, pending: bytes | list[bytes]) -> bool:
        # Once per recipient of every burst: the framer's memory and the
        # socket's outflow are read here rather than called.
        framer = self.framer
        frames: bytes
        if type(pending) is list:
            frames = framer.pieces(pending)
        elif pending is framer.last:
            # Every recipient of a lone message but the first of its kind.
            frames = framer.made
        else:
            frames = framer(pending)  # type: ignore[arg-type]
        inner = self.inner
        idle = inner.idle
        if idle is not None:
            try:
                sent = os.write(idle, frames)
            except OSError:
                sent = 0
            if sent == len(frames):
                return True
            frames = frames[sent:]
        return inner.queue(frames)

    def stopProducing(self) -> None:
        self.inner.stopProducing()


class _Channel(HTTPChannel):
    """
    Twisted's HTTP channel, knowing the protocol that holds it, which the
    door's resource asks to become a WebSocket, and taking no request body.

    Nothing here is sent a body (the page is read with C{GET}, a WebSocket
    opened with one), and Twisted's channel would take one of any size,
    spooled to a temporary file, before the resource could refuse it: a
    request that announces one is answered with 413 and closed as soon as
    its headers end, and nothing more it sends is read.
    """

    door: WebProtocol
    _refused = False

    def allHeadersReceived(self) -> None:
        # 0 unless a Content-Length says otherwise; None when chunked.
        if self.length == 0:
            super().allHeadersReceived()  # type: ignore[no-untyped-call]
            return
        self._refused = True
        assert self.transport is not None
        self.transport.write(
            b"HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
            b"Content-Length: 33\r\nConnection: close\r\n\r\n"
            b"Requests here may have no body.\r\n"
        )
        self.loseConnection()  # type: ignore[no-untyped-call]

    def dataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().dataReceived(data)  # type: ignore[no-untyped-call]

    def rawDataReceived(self, data: bytes) -> None:
        if not self._refused:
            super().rawDataReceived(data)


def headers(request: HTTPRequest) -> Callable[[str], str | None]:
    """
    C{request}'s headers, for L{chat.web.handshake}: a header given more
    than once is one list (as C{X-Forwarded-For} from several proxies is),
    and bytes that are not UTF-8 are read as Latin-1, never refused by an
    exception (Twisted's own C{getHeader} raises one).
    """
    raw = request.requestHeaders

    def header(name: str) -> str | None:
        values = raw.getRawHeaders(name.encode("ascii"))
        return None if values is None else b", ".join(values).decode("latin-1")

    return header


class WebProtocol(StreamProtocol):
    """
    One connection to the web door: HTTP (Twisted's channel does the work)
    until it becomes a WebSocket; then the frames of one IRC connection, of
    which it is the link.
    """

    __slots__ = (
        "_address",
        "_channel",
        "_close",
        "_counted",
        "_deadline",
        "_outflow",
        "_reader",
        "_site",
        "_state",
    )

    log = Logger()

    def __init__(self, site: WebDoor, addr: IAddress | None) -> None:
        # No connection until the WebSocket is open (the slot stays unset).
        self._site = site
        self.transport: ITransport | None = None
        self.connected = False
        self._registered = False
        self._channel: _Channel | None = Site.buildProtocol(site, addr)
        assert self._channel is not None
        self._channel.door = self
        self._reader: f.FrameReader | None = None
        self._outflow: FramedOutflow | None = None
        # The client's address, where a trusted proxy says whom it forwards for.
        self._address: str | None = None
        # OPEN, then DEAF (the client is done, or broke the protocol: what
        # it sends is ignored), then CLOSED (our close frame, with _close's
        # code and reason, is sent: nothing more is).
        self._state = OPEN
        self._close = _NORMAL_CLOSE
        # The address whose HTTP connections this one counts among, until
        # it becomes a WebSocket or closes.
        self._counted: str | None = None
        # When an HTTP connection that has not become a WebSocket is closed.
        self._deadline: IDelayedCall | None = None

    def connectionMade(self) -> None:
        transport = self.transport
        assert transport is not None and self._channel is not None
        if not self._site.admit(self):
            self._channel = None
            self._state = REFUSED
            transport.abortConnection()  # type: ignore[attr-defined]
            return
        if ITCPTransport.providedBy(transport):
            ITCPTransport(transport).setTcpNoDelay(True)
            ITCPTransport(transport).setTcpKeepAlive(True)
        self._deadline = self._site.service.clock.callLater(HTTP_LIFETIME, transport.loseConnection)
        self._channel.makeConnection(transport)  # type: ignore[no-untyped-call]

    def dataReceived(self, data: bytes) -> None:
        if self._channel is not None:
            self._channel.dataReceived(data)
            return
        if self._state != OPEN:
            return
        reader = self._reader or f.FrameReader(MESSAGE_LIMIT)
        got = reader.feed(data)
        # Kept only while it holds part of a frame: an idle client has none.
        self._reader = None if reader.empty else reader
        error = reader.error
        if error is None:
            self._handle(got)
        else:
            self._reader = None
            self._fail(got, error.code, error.reason)

    def _handle(self, got: list[tuple[int, bytes | TooLong]], last: bool = False) -> None:
        """
        Hand the session the lines of the messages C{got}, and answer the
        control frames; C{last}: the client will send nothing more.
        """
        lines: list[bytes | TooLong] = []
        for opcode, payload in got:
            if opcode == f.TEXT or opcode == f.BINARY:
                if payload is TOO_LONG:
                    lines.append(TOO_LONG)
                    continue
                assert isinstance(payload, bytes)
                # One IRC line a message, without CRLF; should a client end
                # it with one, or send several, each is still one line.
                for line in payload.split(b"\n"):
                    if line.endswith(b"\r"):
                        line = line[:-1]
                    if line:
                        lines.append(line)
            elif opcode == f.PING:
                assert self._outflow is not None and isinstance(payload, bytes)
                # Straight to the socket's outflow: a pong is not IRC. A
                # client that pings and does not read is cut, as it would
                # be for not reading what it is told.
                if not self._outflow.inner.write(f.frame(f.PONG, payload)):
                    self.connection.drop()
                    return
            elif opcode == f.CLOSE:
                # The client is done: what it sent before is handled and
                # answered, and the connection closed with our close frame.
                self._state = DEAF
                self.connection.ended(lines)
                return
        if last:
            self.connection.ended(lines)
        elif lines:
            self.connection.received(lines)

    def _fail(self, got: list[tuple[int, bytes | TooLong]], code: int, reason: str) -> None:
        """
        The client broke the protocol: what it sent before is handled and
        answered, then the connection is closed, with C{code} and C{reason}
        in the close frame; nothing more it sends is read.
        """
        self.log.info("WebSocket from {peer} closed: {reason}", peer=self.address, reason=reason)
        self._state = DEAF
        self._close = (code, reason)
        self._handle(got, last=True)

    def readConnectionLost(self) -> None:
        if self._channel is not None:
            assert self.transport is not None
            self.transport.loseConnection()
        elif self._state == OPEN:
            # (After a close frame or a protocol error, the session was
            # told already.)
            self._state = DEAF
            self.connection.ended(())

    def _forget_deadline(self) -> None:
        deadline, self._deadline = self._deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._forget_deadline()
        self._site.release(self)
        channel = self._channel
        if channel is not None:
            self._channel = None
            channel.connectionLost(reason)  # type: ignore[no-untyped-call]
        elif self._state != REFUSED:
            self.connection.lost(reason.check(ConnectionDone) is not None)

    # Becoming a WebSocket.

    def upgrade(self, request: Request, response: bytes, binary: bool) -> None:
        """
        Answer C{request} with C{response} (a 101), and carry an IRC
        connection from now on.
        """
        transport = self.transport
        channel = self._channel
        assert transport is not None and channel is not None
        # Twisted's channel lets go of the socket: no more timeouts, and it
        # is no longer the socket's producer (the outflow will be).
        self._channel = None
        channel.setTimeout(None)  # type: ignore[no-untyped-call]
        self._forget_deadline()
        IConsumer(transport).unregisterProducer()
        site = self._site
        site.release(self)
        peer = getattr(transport.getPeer(), "host", None)
        host = client_address(peer, headers(request), site.proxies)
        if host != peer:
            self._address = host
        service = site.service
        outflow = FramedOutflow(
            outflow_for(transport, service.settings.sendq, budget_for(service)),
            site.binary if binary else site.text,
        )
        # Queued through the outflow: behind what Twisted may still hold of
        # an earlier answer on this connection, and ahead of the first
        # frames, which go straight to the socket only once Twisted's
        # buffer is empty again.
        outflow.inner.queue(response)
        self._outflow = outflow
        self._registered = True
        self.connection = IRCConnection(service, site.irc)
        self.connection.opened(self, outflow, host)

    # The connection's link.

    @property
    def address(self) -> str:
        assert self.transport is not None
        peer = describe_peer(self.transport.getPeer())
        return peer if self._address is None else f"{self._address} (via {peer})"

    def write(self, data: bytes) -> None:
        assert self.transport is not None and self._outflow is not None
        if self._state != CLOSED:
            self.transport.write(self._outflow.framer(data))

    def lose(self) -> None:
        assert self.transport is not None
        if self._state != CLOSED:
            self._state = CLOSED
            self.transport.write(f.close_frame(*self._close))
        super().lose()


class _Root(Resource):
    """
    Every path: a WebSocket if the request asks to upgrade, else the page.
    """

    isLeaf = True

    def __init__(self, door: WebDoor) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.door = door

    def render_GET(self, request: Request) -> bytes | int:
        header = headers(request)
        # (HEAD is answered by this method too: it gets the page's headers.)
        if header("upgrade") is None or request.method != b"GET":
            return self.door.page.render(request)
        try:
            accepted = accept(header, self.door.origins)
        except Refused as e:
            request.setResponseCode(e.status)
            request.setHeader("content-type", "text/plain; charset=utf-8")
            if e.status == 426:
                request.setHeader("upgrade", "websocket")
                request.setHeader("sec-websocket-version", "13")
            return (e.why + "\n").encode()
        channel = request.channel
        assert isinstance(channel, _Channel)
        channel.door.upgrade(request, accepted.response, accepted.subprotocol == BINARY_IRC)
        return NOT_DONE_YET


class WebDoor(Site):
    """
    What C{--web} listens with: the page and the WebSocket endpoint.

    @ivar irc: the IRC door's factory, whose verbs, encoders and PING rounds
        the WebSocket connections share with IRC over TCP.
    @ivar origins: pages of other sites that may open a WebSocket here.
    @ivar proxies: the reverse proxies whose C{X-Forwarded-For} is believed.
    """

    protocol = _Channel  # type: ignore[assignment]
    noisy = False
    _log = Logger()

    def __init__(
        self,
        service: ChatService,
        irc: IRCFactory,
        origins: Sequence[str] = (),
        proxies: Sequence[Network] = (),
        page: Page | None = None,
    ) -> None:
        self.service = service
        self.irc = irc
        self.origins = tuple(origins)
        self.proxies = tuple(proxies)
        self.page = page or Page()
        # One framer for each kind of message, shared by all connections.
        self.text = f.Framer(f.TEXT)
        self.binary = f.Framer(f.BINARY)
        # HTTP connections open, by address (an IPv6 address by its /64),
        # and in all; when each address was last logged for holding too many.
        self.opening: dict[str, int] = {}
        self.opening_total = 0
        self._refusals: dict[str, float] = {}
        super().__init__(_Root(self), timeout=HTTP_TIMEOUT)  # type: ignore[no-untyped-call]

    def admit(self, protocol: WebProtocol) -> bool:
        """
        Whether a new connection may speak HTTP: its address (an IPv6
        address's /64, as every limit counts it) holds fewer than its share
        (L{HTTP_PER_ADDRESS}), and the server fewer than C{--max-clients}.
        A trusted proxy's are not counted against its own share: they are
        everyone's behind it.
        """
        transport = protocol.transport
        assert transport is not None
        host = getattr(transport.getPeer(), "host", None)
        if host is None:
            return True
        settings = self.service.settings
        if settings.max_clients and self.opening_total >= settings.max_clients:
            self.log_refusal("*")
            return False
        share = HTTP_PER_ADDRESS * settings.max_per_host
        group = address_group(host)
        if share and not trusted(host, self.proxies):
            held = self.opening.get(group, 0)
            if held >= share:
                self.log_refusal(group)
                return False
            self.opening[group] = held + 1
        else:
            group = ""
        self.opening_total += 1
        protocol._counted = group
        return True

    def release(self, protocol: WebProtocol) -> None:
        """
        C{protocol} no longer counts among the HTTP connections.
        """
        group, protocol._counted = protocol._counted, None
        if group is None:
            return
        self.opening_total -= 1
        if group:
            left = self.opening[group] - 1
            if left:
                self.opening[group] = left
            else:
                del self.opening[group]

    def log_refusal(self, host: str) -> None:
        now = self.service.clock.seconds()
        if now - self._refusals.get(host, -REFUSAL_LOG_EVERY) >= REFUSAL_LOG_EVERY:
            self._refusals[host] = now
            if host == "*":
                self._log.info("Web door: --max-clients HTTP connections are open; refusing more")
            else:
                self._log.info(
                    "Web door: {host} holds too many HTTP connections; refusing more", host=host
                )

    # Site would keep a session store and log every request; the page and
    # the handshakes are logged by the door itself.
    def log(self, request: HTTPRequest) -> None:
        pass

    def buildProtocol(self, addr: IAddress | None) -> Any:
        return WebProtocol(self, addr)

    def startFactory(self) -> None:
        super().startFactory()
        # The IRC door's PING rounds, which find dead WebSockets too.
        self.irc.doStart()  # type: ignore[no-untyped-call]

    def stopFactory(self) -> None:
        self.irc.doStop()  # type: ignore[no-untyped-call]
        super().stopFactory()
