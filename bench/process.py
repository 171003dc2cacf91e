"""
A server under test in its own process: started, watched through /proc, stopped.

Shared by the benchmark (``run.py``), the attack replays (``hostile.py``) and
the soak test (``soak.py``).
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path
from typing import IO, Any

TICK = os.sysconf("SC_CLK_TCK")


def checkout(code: str) -> dict[str, Any]:
    """
    What C{subprocess} needs to run Python with the chat of checkout
    C{code}: its directory on PYTHONPATH, and as the working directory.
    ``python -c`` puts the working directory first on the path, before
    PYTHONPATH: with PYTHONPATH alone, the chat of wherever the benchmark
    was started ran, whatever checkout was named.
    """
    where = str(Path(code).resolve())
    return {"env": dict(os.environ, PYTHONPATH=where), "cwd": where}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    """
    Seconds of CPU process C{pid} has used (user and system, every thread).
    """
    return sum(cpu_split(pid))


def cpu_split(pid: int) -> tuple[float, float]:
    """
    Seconds of CPU process C{pid} has used in user space and in the kernel
    (every thread): what the server's own code costs, and what the system
    calls it makes do.
    """
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) / TICK, int(fields[12]) / TICK


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class ServerProcess:
    """
    A server started by L{launch}, listening on C{port}, its output in C{log}.
    """

    port: int
    log: IO[bytes]
    process: subprocess.Popen[bytes]
    pid: int

    def launch(self, argv: list[str], what: str, **popen: Any) -> None:
        """
        Start C{argv} and wait (up to 30 s) until it accepts connections on C{port}.
        """
        self.process = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT, **popen)
        self.pid = self.process.pid
        deadline = time.monotonic() + 30
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"{what} did not start") from None
                time.sleep(0.05)

    def cpu(self) -> float:
        """
        Seconds of CPU the server has used (user and system, every thread).
        """
        return cpu_seconds(self.pid)

    def user_cpu(self) -> float:
        """
        Seconds of CPU the server has used in user space (every thread).
        """
        return cpu_split(self.pid)[0]

    def rss_kib(self) -> int:
        return rss_kib(self.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()
