"""
Redis servers of the tests' own: each a C{redis-server} on a free loopback
port, in a folder of its own, with or without its append-only file, stopped
by its PID when the test ends. Faults are made for real: the server is
killed (SIGKILL) and started again on the same port, with what it wrote.
And a link to one that a test cuts (a TCP proxy it pauses).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Factory, Protocol, connectionDone
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from chat.cluster.redis import Address
from tests.live import reactor

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


class Broker:
    """
    A C{redis-server} the test owns.
    """

    def __init__(self, case: SynchronousTestCase, aof: bool = False) -> None:
        self.folder = Path(case.mktemp()).resolve()
        self.folder.mkdir(parents=True)
        self.port = free_port()
        self.aof = aof
        self.process: subprocess.Popen[bytes] | None = None
        self.start()
        case.addCleanup(self.kill)

    @property
    def address(self) -> Address:
        return Address("127.0.0.1", self.port, 0)

    def start(self) -> None:
        """
        Start it (again), with what its append-only file holds, if it keeps one.
        """
        arguments = [
            REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
            "--dir", str(self.folder), "--appendonly", "yes" if self.aof else "no",
            "--appendfsync", "always", "--logfile", str(self.folder / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as probe:
                    probe.sendall(b"PING\r\n")
                    if probe.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.02)
        raise RuntimeError(f"redis-server did not start: {self.folder / 'redis.log'}")

    def kill(self) -> None:
        """
        SIGKILL: no chance to write anything more.
        """
        if self.process is not None and self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None

    def restart(self, empty: bool = False) -> None:
        """
        Kill it and start it again on the same port; C{empty}: without what it had written.
        """
        self.kill()
        if empty:
            for path in self.folder.iterdir():
                if path.name != "redis.log":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
        self.start()


class _Half(Protocol):
    """
    One side of a connection through a L{Link}: what it reads, the other
    side writes.
    """

    def __init__(self, link: Link) -> None:
        self.link = link
        self.other: _Half | None = None

    @property
    def tcp(self) -> Any:
        return self.transport

    def connectionMade(self) -> None:
        self.link.halves.add(self)
        if self.link.cut_off:
            self.tcp.pauseProducing()

    def dataReceived(self, data: bytes) -> None:
        assert self.other is not None
        self.other.tcp.write(data)

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.link.halves.discard(self)
        if self.other is not None and self.other.transport is not None:
            self.other.tcp.loseConnection()


class _Accepted(_Half):
    def connectionMade(self) -> None:
        # Nothing is read until the other side is connected.
        self.tcp.pauseProducing()
        self.link.halves.add(self)
        outgoing = _Half(self.link)
        outgoing.other, self.other = self, outgoing
        endpoint = TCP4ClientEndpoint(reactor, "127.0.0.1", self.link.port)
        connectProtocol(endpoint, outgoing).addCallbacks(
            lambda _: None if self.link.cut_off else self.tcp.resumeProducing(),
            lambda _: self.tcp.loseConnection(),
        )


class Link:
    """
    A TCP proxy between a node and its Redis, that a test cuts and mends:
    cut, not a byte passes either way, and none is lost (a network that
    stops carrying packets, which TCP outlives); mended, what waited goes on.
    """

    def __init__(self, case: SynchronousTestCase, broker: Broker) -> None:
        self.port = broker.port
        self.cut_off = False
        self.halves: set[_Half] = set()
        factory = Factory.forProtocol(lambda: _Accepted(self))
        self.listening = reactor.listenTCP(0, factory, interface="127.0.0.1")
        case.addCleanup(self.close)

    @property
    def address(self) -> Address:
        return Address("127.0.0.1", self.listening.getHost().port, 0)

    def cut(self) -> None:
        self.cut_off = True
        for half in self.halves:
            half.tcp.pauseProducing()

    def mend(self) -> None:
        self.cut_off = False
        for half in self.halves:
            half.tcp.resumeProducing()

    def close(self) -> Deferred[None]:
        self.mend()
        for half in list(self.halves):
            half.tcp.loseConnection()
        stopped: Deferred[None] = self.listening.stopListening()
        return stopped
