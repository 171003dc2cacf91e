"""
C{chat-client}: a terminal gets the chat view, a pipe gets plain lines.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import termios
import tty
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from OpenSSL import SSL
from twisted.internet import stdio
from twisted.internet.defer import Deferred, TimeoutError
from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
from twisted.internet.interfaces import IStreamClientEndpoint
from twisted.internet.ssl import Certificate, optionsForClientTLS, platformTrust
from twisted.internet.task import react
from twisted.logger import ILogObserver, LogEvent, LogLevel, formatEvent, globalLogBeginner
from zope.interface import provider

from chat.client.options import parse_arguments
from chat.client.pipe import PipeDisplay, complain
from chat.client.screen import ChatScreen, Keyboard
from chat.client.session import Backoff, ServerConnection, Session

FLUSH_SECONDS = 2.0


def colours_wanted(arguments: argparse.Namespace, environ: dict[str, str]) -> bool:
    """
    Colours unless switched off: C{--no-color}, or C{NO_COLOR} set to
    anything but the empty string (see no-color.org).
    """
    return bool(arguments.colour and not environ.get("NO_COLOR"))


def trust_for(arguments: argparse.Namespace) -> Any:
    """
    What verifies the server's certificate: the system's CAs, or the one given.

    @raise ValueError: the CA certificate cannot be used.
    """
    if not arguments.ca:
        return platformTrust()
    try:
        return Certificate.loadPEM(Path(arguments.ca).read_bytes())
    except (OSError, SSL.Error) as e:
        raise ValueError(f"cannot use the CA certificate {arguments.ca}: {e}") from e


def endpoint_for(reactor: Any, arguments: argparse.Namespace) -> IStreamClientEndpoint:
    """
    TCP, or TLS when asked for.
    """
    endpoint: IStreamClientEndpoint = HostnameEndpoint(reactor, arguments.host, arguments.port)
    if not (arguments.tls or arguments.ca):
        return endpoint
    return wrapClientTLS(optionsForClientTLS(arguments.host, trustRoot=arguments.trust), endpoint)


def make_session(reactor: Any, arguments: argparse.Namespace, terminal: bool) -> Session:
    endpoint = endpoint_for(reactor, arguments)

    def connect(protocol: ServerConnection) -> Deferred[Any]:
        connecting: Deferred[Any] = connectProtocol(endpoint, protocol)
        return connecting

    return Session(
        reactor,
        connect,
        arguments.nickname,
        # A pipe ends when the server goes away, as it always has: a script
        # or its supervisor decides what to do next.
        backoff=Backoff() if terminal and arguments.reconnect else None,
        address=f"{arguments.host}:{arguments.port}",
    )


def problem_observer(show: Any, debug: bool) -> ILogObserver:
    """
    Client errors (logged failures) as one line each, with the traceback
    under C{--debug}; other log events only under C{--debug}.
    """

    @provider(ILogObserver)
    def observe(event: LogEvent) -> None:
        failure = event.get("log_failure")
        if failure is not None:
            summary = f"{formatEvent(event)}: {failure.getErrorMessage()}"
            show(summary, failure.getTraceback())
        elif debug and event.get("log_level", LogLevel.info) >= LogLevel.warn:
            show(formatEvent(event), None)

    observer: ILogObserver = observe
    return observer


async def run_in_pipe(reactor: Any, arguments: argparse.Namespace) -> int:
    session = make_session(reactor, arguments, terminal=False)
    display = PipeDisplay(session)
    session.attach(display)

    def show(summary: str, details: str | None) -> None:
        complain(f"client error: {summary}")
        if arguments.debug and details:
            sys.stderr.write(details)

    globalLogBeginner.beginLoggingTo(
        [problem_observer(show, arguments.debug)], redirectStandardIO=False
    )
    finished = session.start()
    stdio.StandardIO(display, reactor=reactor)
    status = await finished
    await flushed(reactor, display.gone, display.transport)
    return status


async def flushed(reactor: Any, gone: Deferred[None], transport: Any) -> None:
    """
    Close standard output once what was written to it is out (the reactor
    stops right after: buffered output would be lost), but not for ever.
    """
    if transport is not None:
        transport.loseConnection()
    with suppress(TimeoutError):
        await gone.addTimeout(FLUSH_SECONDS, reactor)


async def run_in_terminal(reactor: Any, arguments: argparse.Namespace) -> int:
    session = make_session(reactor, arguments, terminal=True)
    screen = ChatScreen(
        session,
        colours=colours_wanted(arguments, dict(os.environ)),
        debug=arguments.debug,
        timestamps=arguments.timestamps,
        bell=arguments.bell,
    )
    globalLogBeginner.beginLoggingTo(
        [problem_observer(screen.problem, arguments.debug)], redirectStandardIO=False
    )

    def resized(*_: object) -> None:
        size = os.get_terminal_size(sys.stdout.fileno())
        screen.terminalSize(size.columns, size.lines)

    keyboard = Keyboard(screen)
    stdio.StandardIO(keyboard, reactor=reactor)
    resized()
    signal.signal(signal.SIGWINCH, lambda *_: reactor.callFromThread(resized))
    status = await session.start()
    screen.close()
    await flushed(reactor, keyboard.gone, keyboard.transport)
    return status


@contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """
    Keys one at a time, no echo, no signals from Ctrl-C: the screen handles
    them all. The terminal is restored however the client ends (quitting,
    an exception, SIGTERM).
    """
    saved = termios.tcgetattr(fd)
    tty.setraw(fd)
    try:
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        # After a signal or a crash the input line may still be drawn, and
        # colours on; after a normal end, standard output is closed already.
        with suppress(OSError):
            os.write(sys.stdout.fileno(), b"\r\x1b[K\x1b[0m")


def main(argv: Sequence[str] | None = None) -> None:
    """
    The C{chat-client} console script.
    """
    arguments = parse_arguments(sys.argv[1:] if argv is None else argv)

    try:
        arguments.trust = trust_for(arguments) if arguments.tls or arguments.ca else None
    except ValueError as e:
        complain(str(e))
        raise SystemExit(1) from e
    terminal = sys.stdin.isatty() and sys.stdout.isatty()
    run = run_in_terminal if terminal else run_in_pipe

    async def client(reactor: Any) -> None:
        raise SystemExit(await run(reactor, arguments))

    if not terminal:
        react(client)
        return
    with raw_terminal(sys.stdin.fileno()):
        react(client)
