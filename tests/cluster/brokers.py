"""
Redis servers of the tests' own: each a C{redis-server} on a free loopback
port, in a folder of its own, with or without its append-only file, stopped
by its PID when the test ends. Faults are made for real: the server is
killed (SIGKILL) and started again on the same port, with what it wrote.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

from chat.cluster.redis import Address

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
