"""
What the cluster's log costs, against a redis-server of its own on loopback:
the figures docs/cluster.md chooses its design by.

    .venv/bin/python bench/cluster_log.py --runs 3

For each shape, medians of --runs runs:
 - paced: two nodes, one appending --rate entries a second for --seconds;
   the time from append to the other node reading it back (p50, p99), and
   redis-server's CPU per entry;
 - burst: one node appending --burst entries as fast as it can; entries a
   second, and redis-server's and the node's CPU per entry.
The shapes: the log's Lua append (fencing token, lease, the node's count),
the same without TCP_NODELAY on the node's connections, and a bare XADD (what
the checks cost).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from twisted.internet import defer, reactor, task

from chat.cluster import log as cluster_log
from chat.cluster import redis as cluster_redis
from chat.cluster.log import Entry, Log, Settings
from chat.cluster.redis import Address

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class Broker:
    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="cluster-bench-")
        self.port = free_port()
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.folder, "--logfile", ""],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        for _ in range(500):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.01)

    def cpu(self) -> float:
        """
        Seconds of CPU the server has used (user + system), from /proc.
        """
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class Bare:
    """
    A bare XADD per entry, on one connection (no checks, no numbering).
    """

    def __init__(self, address: Address, deliver: Any) -> None:
        self.address = address
        self.deliver = deliver

    async def start(self) -> None:
        self.commands = await cluster_redis.connect(reactor, self.address)

    def append(self, kind: str, data: str) -> defer.Deferred[Any]:
        d: defer.Deferred[Any] = self.commands.execute_command(
            "XADD", "bare", "MAXLEN", "~", 100000, "*", "k", kind, "d", data
        )
        return d

    async def stop(self) -> None:
        await self.commands.disconnect()


async def paced(shape: str, rate: int, seconds: float) -> dict[str, float]:
    broker = Broker()
    sent: dict[str, float] = {}
    latencies: list[float] = []

    def read(entries: list[Entry]) -> None:
        now = time.perf_counter()
        for entry in entries:
            if entry.kind == "say":
                latencies.append(now - sent.pop(entry.data))

    address = Address("127.0.0.1", broker.port, 0)
    writer = Log(reactor, address, "writer", lambda _: None, print, print, Settings())
    reader = Log(reactor, address, "reader", read, print, print, Settings())
    await writer.start()
    await reader.start()
    cpu = broker.cpu()
    count = int(rate * seconds)
    for n in range(count):
        sent[str(n)] = time.perf_counter()
        writer.append("say", str(n))
        await task.deferLater(reactor, 1 / rate, lambda: None)
    while sent:
        await task.deferLater(reactor, 0.01, lambda: None)
    used = broker.cpu() - cpu
    await writer.stop()
    await reader.stop()
    broker.stop()
    latencies.sort()
    return {
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "redis_us_per_entry": used / count * 1e6,
    }


async def burst(shape: str, count: int) -> dict[str, float]:
    broker = Broker()
    address = Address("127.0.0.1", broker.port, 0)
    node: Any
    if shape == "bare":
        node = Bare(address, None)
        await node.start()
    else:
        # Everything may wait at once: the burst is appended in one go.
        node = Log(
            reactor, address, "writer", lambda _: None, print, print, Settings(max_pending=count)
        )
        await node.start()
        await node._reads.disconnect()  # nothing read: the appends alone
        node._reading = False
    redis_cpu, mine, start = broker.cpu(), own_cpu(), time.perf_counter()
    if shape == "bare":
        # As the log sends them: batches of 500, one round trip each.
        for first in range(0, count, 500):
            await defer.gatherResults(
                [node.append("say", str(n)) for n in range(first, min(count, first + 500))]
            )
    else:
        await defer.gatherResults([node.append("say", str(n)) for n in range(count)])
    elapsed = time.perf_counter() - start
    result = {
        "entries_per_s": count / elapsed,
        "redis_us_per_entry": (broker.cpu() - redis_cpu) / count * 1e6,
        "node_us_per_entry": (own_cpu() - mine) / count * 1e6,
    }
    await node.stop()
    broker.stop()
    return result


def without_nodelay() -> None:
    """
    Connections without TCP_NODELAY, as txredisapi makes them by itself.
    """
    cluster_redis._Protocol.connectionMade = (  # type: ignore[method-assign]
        cluster_redis.txredisapi.RedisProtocol.connectionMade
    )


async def main(arguments: argparse.Namespace) -> None:
    results: dict[str, dict[str, list[float]]] = {}
    shapes = ["log", "bare", "log, no TCP_NODELAY"]
    original = cluster_redis._Protocol.connectionMade
    for run in range(arguments.runs):
        for shape in shapes:
            cluster_redis._Protocol.connectionMade = original  # type: ignore[method-assign]
            if "NODELAY" in shape:
                without_nodelay()
            figures: dict[str, float] = {}
            if shape != "bare":
                figures.update(
                    {
                        f"paced {k}": v
                        for k, v in (await paced(shape, arguments.rate, arguments.seconds)).items()
                    }
                )
            figures.update(
                {f"burst {k}": v for k, v in (await burst(shape, arguments.burst)).items()}
            )
            for name, value in figures.items():
                results.setdefault(shape, {}).setdefault(name, []).append(value)
            rounded = {name: round(value, 3) for name, value in figures.items()}
            print(f"run {run + 1} {shape}: {json.dumps(rounded)}", flush=True)
    print()
    print(
        f"Medians of {arguments.runs} runs (paced: {arguments.rate} entries/s for "
        f"{arguments.seconds} s; burst: {arguments.burst} entries)"
    )
    print()
    names = sorted({name for shape in results.values() for name in shape})
    print("| figure | " + " | ".join(results) + " |")
    print("|---" * (len(results) + 1) + "|")
    for name in names:
        cells = [
            f"{statistics.median(results[shape][name]):.3g}" if name in results[shape] else "-"
            for shape in results
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--burst", type=int, default=50_000)
    arguments = parser.parse_args()
    _ = cluster_log

    def run() -> defer.Deferred[None]:
        d = defer.Deferred.fromCoroutine(main(arguments))
        d.addErrback(lambda f: (f.printTraceback(), None)[1])
        d.addBoth(lambda _: reactor.stop())  # type: ignore[attr-defined]
        return d

    reactor.callWhenRunning(run)  # type: ignore[attr-defined]
    reactor.run()  # type: ignore[attr-defined]
