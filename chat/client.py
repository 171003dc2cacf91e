"""
The bundled client, first version: standard input to the server, the server to standard output.

It works the same in a terminal and in a pipe, so scripts and bots can use it::

    printf 'bob\\nhello\\n' | python -m chat.client --host localhost

End of input sends C{/quit} and exits 0 once the server has said goodbye; a
server that cannot be reached or goes away is one sentence on standard error
and exit status 1.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from OpenSSL import SSL
from twisted.internet import stdio
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.error import ConnectError, ConnectionDone
from twisted.internet.interfaces import (
    IDelayedCall,
    IHalfCloseableProtocol,
    IReactorTime,
    IStreamClientEndpoint,
)
from twisted.internet.protocol import connectionDone
from twisted.internet.ssl import Certificate, optionsForClientTLS, platformTrust
from twisted.internet.task import react
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chat.framing import LineBuffer

QUIT_GRACE_SECONDS = 5.0


class Session:
    """
    Joins the terminal to the server and decides how the client ends.

    @ivar finished: fires with the exit status.
    """

    def __init__(self, clock: IReactorTime, nickname: str | None) -> None:
        self.clock = clock
        self.nickname = nickname
        self.finished: Deferred[int] = Deferred()
        self.server: ServerConnection | None = None
        self.terminal: Terminal | None = None
        self._quitting = False
        self._grace: IDelayedCall | None = None

    def connected(self, server: ServerConnection) -> None:
        self.server = server
        if self.nickname:
            server.sendLine(self.nickname.encode("utf-8"))  # type: ignore[no-untyped-call]

    def attach(self, terminal: Terminal) -> None:
        self.terminal = terminal

    def typed(self, line: bytes) -> None:
        """
        A line from standard input goes to the server as it is.
        """
        if self.server is not None and not self._quitting:
            self.server.sendLine(line)  # type: ignore[no-untyped-call]

    def show(self, line: bytes) -> None:
        """
        A line from the server goes to standard output, with a local line ending.
        """
        if self.terminal is not None and self.terminal.transport is not None:
            self.terminal.transport.write(line + b"\n")

    def input_ended(self) -> None:
        """
        Standard input is exhausted: leave politely, and wait for the server's
        goodbye, which is then still shown, but not for ever.
        """
        if self._quitting or self.server is None:
            return
        self._quitting = True
        self.server.sendLine(b"/quit")  # type: ignore[no-untyped-call]
        self._grace = self.clock.callLater(QUIT_GRACE_SECONDS, self._give_up_waiting)

    def _give_up_waiting(self) -> None:
        self._grace = None
        if self.server is not None and self.server.transport is not None:
            self.server.transport.loseConnection()

    def server_gone(self, reason: Failure) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if self.finished.called:
            return
        if self._quitting:
            self.finished.callback(0)
            return
        if reason.check(SSL.Error):
            complain("the server's TLS certificate could not be verified; not connecting.")
        else:
            how = "closed" if reason.check(ConnectionDone) else "lost"
            complain(f"the connection to the server was {how}.")
        self.finished.callback(1)


class ServerConnection(LineReceiver):
    """
    The connection to the chat server.
    """

    delimiter = b"\r\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, session: Session) -> None:
        self.session = session
        self._lines = LineBuffer(self.MAX_LENGTH)

    def connectionMade(self) -> None:
        self.session.connected(self)

    def dataReceived(self, data: bytes) -> None:
        for line in self._lines.feed(data):
            if isinstance(line, bytes):
                self.session.show(line)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.session.server_gone(reason)


@implementer(IHalfCloseableProtocol)
class Terminal(LineReceiver):
    """
    Standard input and output. Half-closeable so that output goes on after
    input ends, and the server's goodbye is still printed.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, session: Session) -> None:
        self.session = session

    def connectionMade(self) -> None:
        self.session.attach(self)

    def lineReceived(self, line: bytes) -> None:
        self.session.typed(line.rstrip(b"\r"))

    def lineLengthExceeded(self, line: bytes) -> None:
        complain(f"input line over {self.MAX_LENGTH} bytes ignored.")

    def readConnectionLost(self) -> None:
        self.session.input_ended()

    def writeConnectionLost(self) -> None:
        """
        Nobody reads our output any more (a closed pipe); keep chatting regardless.
        """

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.session.input_ended()


def complain(sentence: str) -> None:
    """
    One line on standard error: what went wrong, without a traceback.
    """
    sys.stderr.write(f"chat-client: {sentence}\n")
    sys.stderr.flush()


def parse_arguments(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="chat-client",
        description="Chat from a terminal or a pipe: standard input to the server, "
        "the server to standard output. End of input sends /quit.",
    )
    parser.add_argument("--host", default="localhost", help="server host (default: localhost)")
    parser.add_argument("--port", type=int, default=8888, help="server port (default: 8888)")
    parser.add_argument(
        "--tls",
        action="store_true",
        help="connect with TLS, verifying the server's certificate against the system's CAs",
    )
    parser.add_argument("--ca", help="with --tls: trust this CA certificate (PEM) instead")
    parser.add_argument("nickname", nargs="?", help="log in with this nickname at once")
    return parser.parse_args(argv)


async def run(reactor: Any, arguments: argparse.Namespace) -> int:
    """
    Connect, chat until the input or the connection ends, and return the exit status.
    """
    session = Session(reactor, arguments.nickname)
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, arguments.host, arguments.port)
    if arguments.tls or arguments.ca:
        try:
            trust = (
                Certificate.loadPEM(Path(arguments.ca).read_bytes())
                if arguments.ca
                else platformTrust()
            )
        except (OSError, SSL.Error) as e:
            complain(f"cannot use the CA certificate {arguments.ca}: {e}")
            return 1
        endpoint = wrapClientTLS(optionsForClientTLS(arguments.host, trustRoot=trust), endpoint)
    try:
        await connectProtocol(endpoint, ServerConnection(session))
    except (ConnectError, OSError) as e:
        complain(f"cannot connect to {arguments.host}:{arguments.port}: {e}")
        return 1
    stdio.StandardIO(Terminal(session), reactor=reactor)
    return await session.finished


def main(argv: Sequence[str] | None = None) -> None:
    """
    The C{chat-client} console script.
    """
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)

    async def client(reactor: Any) -> None:
        raise SystemExit(await run(reactor, arguments))

    react(client)


if __name__ == "__main__":
    main()
