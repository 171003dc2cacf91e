"""
A cluster under test: chat nodes (``twistd chat --cluster``) sharing a
redis-server of the benchmark's own and a fresh PostgreSQL database.

Its CPU is the sum of every process that does the chat's work: the nodes,
redis-server, and PostgreSQL's backends for the database (where a single
server's history is written by the server itself). Its clients are spread
over the nodes (``ports``), or all use one port the nodes share
(``reuseport:``, the kernel spreading them).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
from loadgen import say
from process import checkout, cpu_seconds, cpu_split, free_port, rss_kib

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def postgres_server() -> str:
    """
    A PostgreSQL server databases can be made on (C{CHAT_BENCH_POSTGRES},
    else the machine's own, as C{make services} leaves it).
    """
    given = os.environ.get("CHAT_BENCH_POSTGRES")
    if given:
        return given
    for user in ("postgres", "chat_test"):
        url = f"postgresql://{user}@127.0.0.1:5432/postgres"
        try:
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.Error:
            continue
        return url
    raise RuntimeError("no PostgreSQL at 127.0.0.1:5432: make services starts one")


class ClusterServer:
    """
    C{nodes} chat nodes, started in C{workdir}; C{shared}: all on one port.
    """

    dialect = "line"

    def __init__(
        self, nodes: int, workdir: Path, shared: bool = False, code: str | None = None
    ) -> None:
        self.kind = f"{nodes} node{'s' if nodes > 1 else ''}" + (", one port" if shared else "")
        self.server = postgres_server()
        self.database = f"chat_bench_{uuid.uuid4().hex[:10]}"
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"CREATE DATABASE {self.database}")
        self.db = psycopg.conninfo.make_conninfo(self.server, dbname=self.database)
        parts = psycopg.conninfo.conninfo_to_dict(self.db)
        url = (
            f"postgresql://{parts.get('user', '')}@{parts.get('host', '127.0.0.1')}:"
            f"{parts.get('port', 5432)}/{self.database}"
        )
        self.redis_port = free_port()
        redis = [REDIS_SERVER, "--port", str(self.redis_port), "--bind", "127.0.0.1"]
        redis += ["--save", "", "--appendonly", "no", "--dir", str(workdir)]
        self.redis = subprocess.Popen(redis, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for(self.redis_port, self.redis, "redis-server")
        port = free_port()
        self.ports = [port] if shared else [free_port() for _ in range(nodes)]
        self.port = self.ports[0]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs = []
        for number in range(nodes):
            listen = f"reuseport:{port}" if shared else f"tcp:{self.ports[number]}"
            log = workdir / f"node{number}-{self.database}.log"
            self.logs.append(log)
            argv = [
                sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--pidfile=", "chat", "--listen", listen + ":interface=127.0.0.1",
                "--flood", "off", "--max-per-ip", "0", "--max-clients", "0",
                "--db", url, "--cluster", f"redis://127.0.0.1:{self.redis_port}/0",
                "--node", f"node{number}",
            ]  # fmt: skip
            popen: dict[str, Any] = checkout(code) if code is not None else {}
            with log.open("wb") as out:
                process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, **popen)
            self.processes.append(process)
            _wait_for_line(log, f"Node node{number} joined the cluster", process)
        for node in self.ports:
            _wait_for(node, self.processes[0], "the nodes")

    def say(self, text: bytes) -> bytes:
        return say(self.dialect, text)

    def _pids(self) -> list[int]:
        pids = [p.pid for p in self.processes] + [self.redis.pid]
        with psycopg.connect(self.server, autocommit=True) as admin:
            rows = admin.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = %s", (self.database,)
            ).fetchall()
        return pids + [int(pid) for (pid,) in rows]

    def cpu(self) -> float:
        """
        CPU seconds of the nodes, redis-server and the database's backends.
        """
        return sum(self.cpu_parts().values())

    def cpu_parts(self) -> dict[str, float]:
        """
        CPU seconds of the nodes, of redis-server and of the database's
        backends, apart (L{cpu} is their sum): where a delivery's cost goes.
        """
        pids = self._pids()
        count = len(self.processes)
        groups = {"nodes": pids[:count], "redis": pids[count : count + 1]}
        groups["postgres"] = pids[count + 1 :]
        parts = {}
        for name, members in groups.items():
            parts[name] = 0.0
            for pid in members:
                # A backend may end between the query and the read.
                with contextlib.suppress(OSError):
                    parts[name] += cpu_seconds(pid)
        return parts

    def user_cpu(self) -> float:
        total = 0.0
        for pid in self._pids():
            with contextlib.suppress(OSError):
                total += cpu_split(pid)[0]
        return total

    def rss_kib(self) -> int:
        return sum(rss_kib(p.pid) for p in self.processes)

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self.redis.kill()
        self.redis.wait()
        with psycopg.connect(self.server, autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {self.database} WITH (FORCE)")


def _wait_for(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.05)


def _wait_for_line(log: Path, text: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while text not in log.read_text(errors="replace"):
        if process.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"a node did not join: {log}")
        time.sleep(0.05)
