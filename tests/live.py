"""
Helpers for tests on real loopback sockets and real processes: a netcat
stand-in, the bundled client and C{twistd} as subprocesses.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from twisted.internet import reactor as _reactor
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.error import ProcessDone, ProcessTerminated
from twisted.internet.protocol import ProcessProtocol, Protocol, connectionDone
from twisted.internet.task import deferLater
from twisted.python.failure import Failure

# The global reactor provides TCP, time and processes; typing has no intersection to say so.
reactor: Any = _reactor
ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 20.0


class RawClient(Protocol):
    """
    A netcat stand-in: sends raw bytes, collects whole lines, can wait for one.
    """

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.buffer = b""
        self.closed: Deferred[None] = Deferred()
        self._waiting: list[tuple[Callable[[str], bool], Deferred[str]]] = []

    def dataReceived(self, data: bytes) -> None:
        *complete, self.buffer = (self.buffer + data).split(b"\r\n")
        for raw in complete:
            line = raw.decode("utf-8")
            self.lines.append(line)
            for entry in list(self._waiting):
                if entry[0](line):
                    self._waiting.remove(entry)
                    entry[1].callback(line)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.closed.callback(None)

    def send(self, text: str) -> None:
        assert self.transport is not None
        self.transport.write(text.encode("utf-8") + b"\n")

    def wait_for(self, predicate: Callable[[str], bool]) -> Deferred[str]:
        """
        Fire with the first line (already seen or still to come) that matches.
        """
        for line in self.lines:
            if predicate(line):
                d: Deferred[str] = Deferred()
                d.callback(line)
                return d
        waiting: Deferred[str] = Deferred()
        self._waiting.append((predicate, waiting))
        return waiting.addTimeout(TIMEOUT, reactor)

    def wait_line(self, text: str) -> Deferred[str]:
        return self.wait_for(lambda line: line == text)


class ProcessRunner(ProcessProtocol):
    """
    Feeds a child its standard input, then collects its output and exit status.
    """

    def __init__(self, stdin: bytes | None) -> None:
        """
        @param stdin: written and then closed; L{None} leaves standard input open.
        """
        self.stdin = stdin
        self.out = b""
        self.err = b""
        self.finished: Deferred[tuple[bytes, bytes, int]] = Deferred()

    def connectionMade(self) -> None:
        assert self.transport is not None
        if self.stdin is not None:
            self.transport.write(self.stdin)
            self.transport.closeStdin()

    def outReceived(self, data: bytes) -> None:
        self.out += data

    def errReceived(self, data: bytes) -> None:
        self.err += data

    def processEnded(self, reason: Failure) -> None:
        status = reason.value
        assert isinstance(status, (ProcessDone, ProcessTerminated))
        code = status.exitCode
        self.finished.callback((self.out, self.err, -1 if code is None else code))


def hang_up(client: Protocol) -> None:
    if client.transport is not None:
        client.transport.loseConnection()


def spawn_client(port: int, *arguments: str, stdin: bytes | None) -> ProcessRunner:
    """
    Run the bundled client against the loopback port, as a user would.
    """
    process = ProcessRunner(stdin)
    argv = [sys.executable, "-m", "chat.client", "--host", "127.0.0.1", "--port", str(port)]
    reactor.spawnProcess(process, sys.executable, [*argv, *arguments], env=os.environ.copy())
    process.finished.addTimeout(TIMEOUT, reactor)
    return process


async def start_twistd(workdir: Path, *options: str, prelude: str = "") -> tuple[TwistdRunner, int]:
    """
    Start `twistd -n chat` in C{workdir} on a free loopback port, with
    C{options} (and C{prelude}, Python run first in the process); return it
    and its port once it listens.
    """
    process = spawn_twistd(workdir, *options, prelude=prelude)
    port = await process.port.addTimeout(TIMEOUT, reactor)
    return process, port


def spawn_twistd(workdir: Path, *options: str, prelude: str = "") -> TwistdRunner:
    """
    Start `twistd -n chat` as L{start_twistd} does, without waiting for it
    to listen: for a twistd that is meant to refuse to start.
    """
    process = TwistdRunner()
    argv = [
        sys.executable, "-c", prelude + "\nfrom twisted.scripts.twistd import run; run()",
        "--nodaemon", "--pidfile=", "chat", "--listen", "tcp:0:interface=127.0.0.1", *options,
    ]  # fmt: skip
    reactor.spawnProcess(process, sys.executable, argv, env=os.environ.copy(), path=str(workdir))
    return process


async def send_and_half_close(port: int, data: bytes) -> RawClient:
    """
    As C{printf ... | nc -N}: send C{data}, close the sending side, read
    until the server closes.
    """
    client = await connect_raw(port)
    assert client.transport is not None
    client.transport.write(data)
    client.transport.loseWriteConnection()  # type: ignore[attr-defined]
    await client.closed
    return client


async def in_lobby(port: int, nickname: str) -> RawClient:
    """
    A raw client logged in as C{nickname}, once it is in C{lobby}.
    """
    client = await connect_raw(port)
    client.send(nickname)
    await client.wait_for(lambda line: line.startswith("*** You are in lobby."))
    return client


async def connect_raw(port: int) -> RawClient:
    """
    A raw client connected to the loopback port.
    """
    client = RawClient()
    await connectProtocol(TCP4ClientEndpoint(reactor, "127.0.0.1", port), client)
    return client


class TwistdRunner(ProcessProtocol):
    """
    Watches twistd's log for its listening port.
    """

    def __init__(self) -> None:
        self.log = b""
        self.port: Deferred[int] = Deferred()
        self.ended: Deferred[tuple[str, int]] = Deferred()

    def outReceived(self, data: bytes) -> None:
        self.log += data
        if not self.port.called and b" starting on " in self.log:
            tail = self.log.split(b" starting on ", 1)[1]
            digits = tail.split(b"\n", 1)[0].strip()
            if digits.isdigit():
                self.port.callback(int(digits))

    errReceived = outReceived

    def processEnded(self, reason: Failure) -> None:
        if not self.port.called:
            self.port.errback(RuntimeError(f"twistd ended early:\n{self.log.decode()}"))
        status = reason.value
        assert isinstance(status, (ProcessDone, ProcessTerminated))
        if status.signal is not None:
            self.ended.callback(("signal", status.signal))
        else:
            self.ended.callback(("exit", status.exitCode))

    def logged(self, text: bytes) -> Deferred[None]:
        """
        Fire once twistd's log has C{text}.
        """

        async def wait() -> None:
            while text not in self.log:
                await deferLater(reactor, 0.05, lambda: None)

        return Deferred.fromCoroutine(wait()).addTimeout(TIMEOUT, reactor)

    async def stop(self) -> None:
        """
        Stop twistd (if it still runs) and wait until it has; one that has
        not stopped after L{TIMEOUT} seconds is killed (it never outlives
        its test), and the test fails.
        """
        if self.ended.called or self.transport is None:
            return
        self.transport.signalProcess("TERM")
        deadline = reactor.seconds() + TIMEOUT
        while not self.ended.called and reactor.seconds() < deadline:
            await deferLater(reactor, 0.05, lambda: None)
        if self.ended.called:
            return
        self.transport.signalProcess("KILL")
        while not self.ended.called:
            await deferLater(reactor, 0.05, lambda: None)
        raise AssertionError(f"twistd did not stop within {TIMEOUT} s of SIGTERM: killed")
