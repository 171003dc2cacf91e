"""
The benchmark suite: chat and two baselines, measured from outside, side by side.

    .venv/bin/python bench/run.py                 # what `make bench` runs: results in bench/runs/
    .venv/bin/python bench/run.py --runs 3        # medians of three runs of everything
    .venv/bin/python bench/run.py --smoke         # tiny sizes: everything completes, nothing lost
    .venv/bin/python bench/run.py --code OLD .    # chat as checked out in OLD, then this one
    .venv/bin/python bench/run.py --irc --code OLD . --peers  # the same, beside ngIRCd and InspIRCd

Each scenario starts the server under test itself (``chat`` through twistd,
``floor`` and ``threaded`` from ``bench/baselines.py``), drives it from
asyncio worker processes on loopback (``bench/loadgen.py``), reads the
server's CPU time from ``/proc/PID/stat`` and its memory from
``/proc/PID/status``, prints one JSON record, and stops it. At the end it
writes ``DATE.json`` and ``DATE.md`` (a table with every figure and its ratio
to the baselines) and, when matplotlib is installed (the ``bench`` extra), PNG
plots, in ``bench/runs/``, which git ignores: ``--out bench/results`` keeps
them with the results the documents quote. Every loop is bounded in count
and time; a measurement that lost deliveries is said in a line that names
the server that lost them, chat or a baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cluster import ClusterServer
from loadgen import Receiver, Worker, login, say, send_line, worker_main
from process import ServerProcess, checkout, free_port

HERE = Path(__file__).resolve().parent
WINDOW = 2000  # messages a sender may be ahead of the average receiver
# On IRC, less: ngIRCd drops a client whose unsent output passes its fixed
# send queue, and 2 000 lines ahead would be ~70 KB of it.
IRC_WINDOW = 500
QUIET = 15.0  # seconds without progress after which a scenario gives up waiting


# The servers.


NGIRCD_CONF = """\
[Global]
Name = bench.test
Info = bench
Listen = 127.0.0.1
Ports = {port}
PidFile = {workdir}/ngircd-{port}.pid
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
"""

INSPIRCD_CONF = """\
<server name="bench.test" description="bench" network="bench">
<admin name="bench" nick="bench" email="bench@bench.test">
<bind address="127.0.0.1" port="{port}" type="clients">
<connect allow="*" timeout="60" pingfreq="600" sendq="1048576" recvq="65536"
  localmax="100000" globalmax="100000" maxconnwarn="off" fakelag="no"
  commandrate="100000000" threshold="100000000" limit="100000" useident="no"
  resolvehostnames="no">
<performance softlimit="20000" somaxconn="4096" clonesonconnect="no" timeskipwarn="0">
<channels users="100000" opers="100000">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="default"
  target="{workdir}/inspircd-{port}.log">
<pid file="{workdir}/inspircd-{port}.pid">
"""

CLUSTER_KINDS = ("single node", "1 node", "2 nodes", "3 nodes", "2 nodes, one port")
"""
The cluster scenarios' servers: chat on SQLite alone, then nodes through
Redis and PostgreSQL (bench/cluster.py), their clients spread over them, or
all on one port the nodes share.
"""
CHAT_KINDS = ("chat", "chat-irc", "chat-web", *CLUSTER_KINDS)
IRC_SERVERS = ("chat-irc", "ngircd", "inspircd")
"""
The IRC benchmark's servers: chat's IRC door and two C servers from Debian's
packages, each with flood control off, on loopback.
"""

PEERS = {"ngircd": "/usr/sbin/ngircd", "inspircd": "/usr/sbin/inspircd"}
"""The IRC servers C{--irc} measures chat against, where Debian installs them."""


class Server(ServerProcess):
    """
    A server under test, in its own process; C{dialect} is what its clients speak.
    """

    def __init__(
        self, kind: str, workdir: Path, history: bool = True, code: str | None = None
    ) -> None:
        """
        @param code: a chat checkout to run instead of the installed one
            (chat's servers only).
        """
        self.kind = kind
        self.port = free_port()
        self.ports = [self.port]
        self.dialect = "irc" if kind in IRC_SERVERS else "ws" if kind == "chat-web" else "line"
        self.log = open(workdir / f"{kind}-{self.port}.log", "wb")  # noqa: SIM115
        if kind in CHAT_KINDS:
            door = ["--listen", f"tcp:{self.port}:interface=127.0.0.1"]
            if kind == "chat-irc":
                door = [
                    "--listen", f"tcp:{free_port()}:interface=127.0.0.1",
                    "--irc", f"tcp:{self.port}:interface=127.0.0.1",
                ]  # fmt: skip
            elif kind == "chat-web":
                door = [
                    "--listen", f"tcp:{free_port()}:interface=127.0.0.1",
                    "--web", f"tcp:{self.port}:interface=127.0.0.1",
                ]  # fmt: skip
            argv = [
                sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
                "-n", "--pidfile=", "chat", *door,
                "--flood", "off", "--max-per-ip", "0", "--max-clients", "0",
                "--db", str(workdir / f"chat-{self.port}.sqlite3"),
            ]  # fmt: skip
            if not history:
                argv.append("--no-history")
        elif kind == "ngircd":
            conf = workdir / f"ngircd-{self.port}.conf"
            conf.write_text(NGIRCD_CONF.format(port=self.port, workdir=workdir))
            argv = [PEERS["ngircd"], "--nodaemon", "--config", str(conf)]
        elif kind == "inspircd":
            conf = workdir / f"inspircd-{self.port}.conf"
            conf.write_text(INSPIRCD_CONF.format(port=self.port, workdir=workdir))
            argv = [PEERS["inspircd"], "--nofork", "--runasroot", "--config", str(conf)]
        else:
            argv = [sys.executable, str(HERE / "baselines.py"), kind, str(self.port)]
        if code is not None and kind in CHAT_KINDS:
            self.launch(argv, kind, **checkout(code))
        else:
            self.launch(argv, kind)

    def say(self, text: bytes) -> bytes:
        return say(self.dialect, text)


# The load generator: worker processes for the receivers, senders here.


class Generator:
    def __init__(self, port: int | list[int], workers: int, dialect: str = "line") -> None:
        context = multiprocessing.get_context("fork")
        self.progress = [context.Value("q", 0, lock=False) for _ in range(workers)]
        self.pipes = []
        self.processes = []
        self.sizes = [0] * workers
        for number in range(workers):
            here, there = context.Pipe()
            process = context.Process(
                target=worker_main,
                args=(port, there, self.progress[number], dialect),
                daemon=True,
            )
            process.start()
            self.pipes.append(here)
            self.processes.append(process)

    async def _ask(self, number: int, command: str, argument: Any = None) -> Any:
        pipe = self.pipes[number]
        pipe.send((command, argument))
        loop = asyncio.get_running_loop()
        answer: asyncio.Future[Any] = loop.create_future()
        loop.add_reader(pipe.fileno(), lambda: answer.done() or answer.set_result(pipe.recv()))
        try:
            status, value = await answer
        finally:
            loop.remove_reader(pipe.fileno())
        if status != "ok":
            raise RuntimeError(f"worker {number}: {value}")
        return value

    async def all(self, command: str, arguments: list[Any] | None = None) -> list[Any]:
        arguments = arguments or [None] * len(self.pipes)
        return list(
            await asyncio.gather(
                *(self._ask(n, command, argument) for n, argument in enumerate(arguments))
            )
        )

    async def connect(
        self, count: int, prefix: str, reading: bool = True, join: bool = True, at_once: int = 200
    ) -> float:
        """
        Log in C{count} clients spread over the workers; the seconds it took.
        """
        shares: list[list[str]] = [[] for _ in self.pipes]
        for number in range(count):
            shares[number % len(shares)].append(f"{prefix}{number}")
        for number, share in enumerate(shares):
            if reading:
                self.sizes[number] += len(share)
        elapsed = await self.all("connect", [(share, reading, join, at_once) for share in shares])
        return float(max(elapsed))

    def slowest(self) -> float:
        """
        Messages received by the average receiver of the slowest worker.
        """
        return min(
            p.value / size for p, size in zip(self.progress, self.sizes, strict=False) if size
        )

    def received(self) -> int:
        return sum(p.value for p in self.progress)

    async def stats(self) -> dict[str, Any]:
        parts = await self.all("stats")
        latencies = array("q")
        per_second: dict[int, int] = {}
        for part in parts:
            latencies.frombytes(part["latencies"])
            for second, count in part["per_second"].items():
                per_second[second] = per_second.get(second, 0) + count
        return {
            "count": sum(part["count"] for part in parts),
            "last": max(part["last"] for part in parts),
            "lost_connections": sum(part["lost_connections"] for part in parts),
            "late": sum(part["late"] for part in parts),
            "gaps": sum(part["gaps"] for part in parts),
            "latencies": latencies,
            "per_second": per_second,
        }

    async def stop(self) -> None:
        await self.all("stop")
        for process in self.processes:
            process.join(10)


class Talker(Receiver):
    """
    A client in this process: sends, and also counts what it receives.
    """

    async def open(self, port: int, name: str) -> Talker:
        loop = asyncio.get_running_loop()
        self.name = name
        await loop.create_connection(lambda: self, "127.0.0.1", port)
        assert self.transport is not None
        self.transport.write(login(self.worker.dialect, name))
        await asyncio.wait_for(self.logged_in, 60)
        return self

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)


async def talkers(
    port: int | list[int], count: int, prefix: str, dialect: str = "line"
) -> tuple[Worker, list[Talker]]:
    """
    C{count} clients here (on each of C{port}'s in turn, if several).
    """
    counter = Worker(port, multiprocessing.Value("q", 0, lock=False), dialect)
    ports = counter.ports
    made = [await Talker(counter).open(ports[n % len(ports)], f"{prefix}{n}") for n in range(count)]
    counter.clients.extend(made)
    return counter, made


async def paced(rate: float, total: int) -> AsyncIterator[int]:
    """
    0, 1, ... C{total} - 1, each when it is due at C{rate} a second (at once when late).
    """
    started = time.monotonic()
    for number in range(total):
        delay = started + number / rate - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        yield number


async def until(done: Callable[[], bool], progress: Callable[[], float]) -> bool:
    """
    Wait until C{done()}, or until C{progress()} has not changed for L{QUIET} seconds.
    """
    seen, since = progress(), time.monotonic()
    while not done():
        await asyncio.sleep(0.01)
        now = progress()
        if now != seen:
            seen, since = now, time.monotonic()
        elif time.monotonic() - since > QUIET:
            return False
    return True


# The scenarios.


async def filled_room(
    server: Server, clients: int, workers: int, latency: bool
) -> tuple[Generator, list[Talker]]:
    """
    C{clients} receivers logged in over the workers, and four senders here.
    """
    generator = Generator(server.ports, workers, server.dialect)
    try:
        await generator.connect(clients, "r")
        _, senders = await talkers(server.ports, 4, "s", server.dialect)
        await asyncio.sleep(0.5)
        await generator.all("reset", [latency] * workers)
    except BaseException:
        await generator.stop()
        raise
    return generator, senders


def cpu_parts(server: Any) -> dict[str, float]:
    """
    A cluster's CPU seconds by part (L{ClusterServer.cpu_parts}); nothing
    for a single server, whose one process is all of it.
    """
    parts = getattr(server, "cpu_parts", None)
    return parts() if parts is not None else {}


def parts_per_delivery(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """
    The CPU seconds each part used between C{before} and C{after}, named
    as the results' columns (C{nodes_us_per_delivery}, ...).
    """
    return {f"{name}_us_per_delivery": after[name] - before[name] for name in before}


async def fan_out(server: Server, clients: int, messages: int, workers: int) -> dict[str, Any]:
    """
    C{clients} in one room, four senders sending C{messages} in all as fast
    as the server takes them (a bounded window ahead of the receivers).
    """
    generator, senders = await filled_room(server, clients, workers, latency=False)
    try:
        cpu, user, started = server.cpu(), server.user_cpu(), time.monotonic()
        parts = cpu_parts(server)
        sent = 0
        window = WINDOW if server.dialect == "line" else IRC_WINDOW
        while sent < messages:
            if sent - generator.slowest() > window:
                await asyncio.sleep(0.0005)
                continue
            batch = min(20, messages - sent)
            sender = senders[(sent // 20) % len(senders)]
            sender.send(b"".join(server.say(b"m %d" % n) for n in range(sent, sent + batch)))
            sent += batch
            await asyncio.sleep(0)
        expected = clients * messages
        await until(lambda: generator.received() >= expected, generator.received)
        cpu, user = server.cpu() - cpu, server.user_cpu() - user
        parts = parts_per_delivery(parts, cpu_parts(server))
        stats = await generator.stats()
        elapsed = stats["last"] - started
        delivered = stats["count"]
        return {
            "deliveries_per_s": round(delivered / elapsed) if elapsed > 0 else 0,
            "cpu_us_per_delivery": round(cpu / max(delivered, 1) * 1e6, 3),
            "user_us_per_delivery": round(user / max(delivered, 1) * 1e6, 3),
            **{name: round(used / max(delivered, 1) * 1e6, 3) for name, used in parts.items()},
            "lost": expected - delivered,
            "seconds": round(elapsed, 2),
        }
    finally:
        await generator.stop()


async def latency(
    server: Server, clients: int, rate: int, seconds: float, workers: int
) -> dict[str, Any]:
    """
    C{clients} in one room, C{rate} messages a second into it from four
    senders, for C{seconds}: send-to-receive latency of every delivery.
    """
    generator, senders = await filled_room(server, clients, workers, latency=True)
    try:
        cpu, user = server.cpu(), server.user_cpu()
        parts = cpu_parts(server)
        total = int(rate * seconds)
        sequence = [0] * len(senders)
        async for number in paced(rate, total):
            which = number % len(senders)
            senders[which].send(server.say(b"%d %d" % (sequence[which], time.monotonic_ns())))
            sequence[which] += 1
        expected = clients * total
        await until(lambda: generator.received() >= expected, generator.received)
        cpu, user = server.cpu() - cpu, server.user_cpu() - user
        parts = parts_per_delivery(parts, cpu_parts(server))
        stats = await generator.stats()
        latencies = sorted(stats["latencies"])
        delivered = stats["count"]

        def percentile(p: float) -> float:
            if not latencies:
                return float("nan")
            return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))] / 1e6, 3)

        return {
            "offered_deliveries_per_s": rate * clients,
            "p50_ms": percentile(0.50),
            "p99_ms": percentile(0.99),
            "max_ms": round(latencies[-1] / 1e6, 3) if latencies else None,
            "cpu_us_per_delivery": round(cpu / max(delivered, 1) * 1e6, 3),
            "user_us_per_delivery": round(user / max(delivered, 1) * 1e6, 3),
            **{name: round(used / max(delivered, 1) * 1e6, 3) for name, used in parts.items()},
            "lost": expected - delivered,
            "duplicated_or_reordered": stats["late"],
        }
    finally:
        await generator.stop()


async def idle(
    server: Server, clients: int, workers: int, in_channel: bool = False
) -> dict[str, Any]:
    """
    C{clients} logged in and silent: memory per connection, time to connect
    them, and one message afterwards that must reach every one.
    """
    generator = Generator(server.port, workers, server.dialect)
    irc = server.dialect != "line"
    try:
        before = server.rss_kib()
        # On IRC, in no channel: 10 000 JOINs into one channel are 50
        # million JOIN lines on a server without chat's crowd rule (ngIRCd
        # took 80 s to fill one with 3 000 here); each then gets a private
        # message instead of one in the room.
        irc = irc and not in_channel
        # ngIRCd listens with a backlog of 10: connections past it are reset
        # before they are accepted, so it is given a few at a time (InspIRCd
        # takes a second to register each, and needs many at once).
        at_once = 4 if server.kind == "ngircd" else 200
        seconds = await generator.connect(clients, "i", join=not irc, at_once=at_once)
        await asyncio.sleep(1.0)
        after = server.rss_kib()
        _, [sender] = await talkers(server.port, 1, "s", server.dialect)
        await generator.all("reset", [False] * workers)
        if irc:
            for number in range(clients):
                sender.send(send_line(server.dialect, b"PRIVMSG i%d :still there?" % number))
                if number % 500 == 499:
                    await asyncio.sleep(0.01)
        else:
            sender.send(server.say(b"still there?"))
        await until(lambda: generator.received() >= clients, generator.received)
        delivered = generator.received()
        return {
            "connect_s": round(seconds, 2),
            "rss_kib_per_connection": round((after - before) / clients, 2),
            "rss_mib": round(after / 1024, 1),
            "delivered_after": delivered,
            "lost": clients - delivered,
        }
    finally:
        await generator.stop()


async def slow_consumer(
    server: Server, chatty: int, seconds: float, rate: int, size: int, workers: int
) -> dict[str, Any]:
    """
    C{chatty} clients talking (C{rate} messages a second in all, C{size}
    bytes each) and one that logs in and never reads, for C{seconds}.
    """
    generator = Generator(server.port, 1, server.dialect)
    clients: list[Talker] = []
    try:
        counter, clients = await talkers(server.port, chatty, "c", server.dialect)
        filler = b"x" * max(size - 10, 1)

        async def chat_for(duration: float, sample: Callable[[], None]) -> tuple[float, float, int]:
            started = time.monotonic()
            total = int(rate * duration)
            async for number in paced(rate, total):
                if number % max(rate // 10, 1) == 0:
                    sample()
                clients[number % chatty].send(server.say(b"%d " % number + filler))
            return started, time.monotonic(), total

        # A warm-up without the stuck client, so that what grows after it is
        # what the stuck client costs (not caches filling, SQLite's among them).
        await chat_for(min(5.0, seconds), lambda: None)
        await asyncio.sleep(1.0)
        await generator.connect(1, "stuck", reading=False)
        await asyncio.sleep(0.5)
        counter.reset(False)
        start_rss = server.rss_kib()
        peak = [start_rss]
        started, ended, total = await chat_for(
            seconds, lambda: peak.__setitem__(0, max(peak[0], server.rss_kib()))
        )
        peak_rss = peak[0]
        expected = total * (chatty - 1)
        await until(lambda: counter.count >= expected, lambda: counter.count)
        peak_rss = max(peak_rss, server.rss_kib())
        bins = counter.per_second
        stalled = sum(1 for second in range(int(started) + 1, int(ended)) if not bins.get(second))
        return {
            "received_fraction": round(counter.count / expected, 4),
            "stalled_seconds": stalled,
            "rss_growth_mib": round((peak_rss - start_rss) / 1024, 1),
            "lost": expected - counter.count,
        }
    finally:
        for client in clients:
            if client.transport is not None:
                client.transport.abort()
        await generator.stop()


# The suite.

SERVERS = ("chat", "floor", "threaded")


def plan(smoke: bool) -> list[tuple[str, str, dict[str, Any], bool]]:
    """
    (scenario, server, parameters, history) for every measurement, in order.
    """
    if smoke:
        sizes, messages, idle_sizes = (20,), 200, (50,)
        latency_args = {"clients": 10, "rate": 50, "seconds": 1.0}
        slow_args = {"chatty": 5, "seconds": 2.0, "rate": 20, "size": 200}
    else:
        sizes, messages, idle_sizes = (50, 200, 1000), 0, (1000, 5000, 10000)
        latency_args = {"clients": 100, "rate": 200, "seconds": 10.0}
        slow_args = {"chatty": 20, "seconds": 20.0, "rate": 200, "size": 2000}
    steps: list[tuple[str, str, dict[str, Any], bool]] = []
    for size in sizes:
        count = messages or max(2000, 3_000_000 // size)
        for kind in SERVERS:
            steps.append(("fan-out", kind, {"clients": size, "messages": count}, True))
    for kind in SERVERS:
        steps.append(("latency", kind, latency_args, True))
    for size in idle_sizes:
        for kind in SERVERS:
            steps.append(("idle", kind, {"clients": size}, True))
    for kind in SERVERS:
        steps.append(("slow consumer", kind, slow_args, True))
    history_size = sizes[0] if smoke else 200
    history_count = messages or 15_000
    for on in (True, False):
        steps.append(("history", "chat", {"clients": history_size, "messages": history_count}, on))
    cluster_fan = {"clients": history_size, "messages": history_count}
    kinds = ("single node", "2 nodes", "2 nodes, one port") if smoke else CLUSTER_KINDS
    for scenario, parameters in (
        ("cluster fan-out", cluster_fan),
        ("cluster latency", latency_args),
    ):
        for kind in kinds:
            steps.append((scenario, kind, parameters, True))
    return steps


def plan_irc(smoke: bool) -> list[tuple[str, str, dict[str, Any], bool]]:
    """
    The IRC benchmark (``--irc``): chat's IRC door against ngIRCd and
    InspIRCd on the same IRC workload.
    """
    if smoke:
        fan = {"clients": 20, "messages": 200}
        latency_args = {"clients": 10, "rate": 50, "seconds": 1.0}
        idle_args = {"clients": 50}
        slow_args = {"chatty": 5, "seconds": 2.0, "rate": 20, "size": 200}
    else:
        fan = {"clients": 200, "messages": 15_000}
        latency_args = {"clients": 100, "rate": 200, "seconds": 10.0}
        idle_args = {"clients": 10_000}
        # IRC lines are at most 512 bytes: 400-byte messages.
        slow_args = {"chatty": 20, "seconds": 20.0, "rate": 200, "size": 400}
    steps: list[tuple[str, str, dict[str, Any], bool]] = []
    for scenario, parameters in (
        ("fan-out", fan),
        ("latency", latency_args),
        ("idle", idle_args),
        ("slow consumer", slow_args),
    ):
        for kind in IRC_SERVERS:
            steps.append((scenario, kind, parameters, True))
        if scenario != "slow consumer":
            # The same IRC door, carried by WebSockets (docs/web.md).
            steps.append((scenario, "chat-web", parameters, True))
        if scenario == "latency":
            # What history costs the tail, beside the C servers, in the same run.
            steps.append((scenario, "chat-irc", parameters, False))
    # chat alone: the C servers announce every JOIN to everyone (N² lines).
    steps.append(("idle in a channel", "chat-irc", idle_args, True))
    return steps


async def measure(
    scenario: str,
    kind: str,
    parameters: dict[str, Any],
    history: bool,
    workdir: Path,
    workers: int,
    code: str | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """
    One run of C{scenario} against C{kind}; C{code}, the checkout it runs
    (chat's servers), named C{label} in the results (L{checkout_labels}).
    """
    server: Any
    if kind in CLUSTER_KINDS[1:]:
        nodes = int(kind.split()[0])
        server = ClusterServer(nodes, workdir, shared=kind.endswith("one port"), code=code)
    else:
        server = Server("chat" if kind == "single node" else kind, workdir, history, code)
    try:
        if scenario in ("fan-out", "history", "cluster fan-out"):
            result = await fan_out(server, workers=workers, **parameters)
        elif scenario in ("latency", "cluster latency"):
            result = await latency(server, workers=workers, **parameters)
        elif scenario == "idle":
            result = await idle(server, workers=workers, **parameters)
        elif scenario == "idle in a channel":
            result = await idle(server, workers=workers, in_channel=True, **parameters)
        else:
            result = await slow_consumer(server, workers=workers, **parameters)
    finally:
        server.stop()
    name = kind if label is None else f"{kind} ({label})"
    return {"scenario": scenario, "server": name, "history": history, **parameters, **result}


def median_of(records: list[dict[str, Any]]) -> dict[str, Any]:
    """
    One record whose numbers are the medians of C{records}' (the same measurement run again).
    """
    merged = dict(records[0])
    for key, value in records[0].items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            values = [record[key] for record in records if record.get(key) is not None]
            merged[key] = statistics.median(values)
    merged["runs"] = len(records)
    return merged


async def suite(arguments: argparse.Namespace) -> list[dict[str, Any]]:
    workdir = Path(tempfile.mkdtemp(prefix="chat-bench-"))
    steps = plan_irc(arguments.smoke) if arguments.irc else plan(arguments.smoke)
    if arguments.only:
        steps = [step for step in steps if step[0] in arguments.only]
    codes: list[str | None] = [None]
    if arguments.code:
        # Each chat measurement once per checkout, one after the other, so
        # that they share the machine's good and bad moments alike.
        codes = list(arguments.code)
        if not arguments.peers:
            steps = [step for step in steps if step[1] in CHAT_KINDS]
    # Each measurement's runs are spread over the whole suite (run 1 of
    # everything, then run 2...), so that the servers compared in one
    # scenario share the machine's good and bad moments alike.
    measurements = [
        (*step, code) for step in steps for code in (codes if step[1] in CHAT_KINDS else [None])
    ]
    labels = checkout_labels([code for code in codes if code is not None])
    runs: dict[int, list[dict[str, Any]]] = {index: [] for index in range(len(measurements))}
    for _ in range(arguments.runs):
        for index, (scenario, kind, parameters, history, code) in enumerate(measurements):
            label = None if code is None else labels[code]
            record = await measure(
                scenario, kind, parameters, history, workdir, arguments.workers, code, label
            )
            print(json.dumps(record), flush=True)
            runs[index].append(record)
    return [median_of(runs[index]) for index in range(len(measurements))]


def options(argv: list[str] | None = None) -> argparse.Namespace:
    """
    The command line (C{sys.argv}'s, by default).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1, help="runs of each measurement (medians)")
    parser.add_argument("--workers", type=int, default=2, help="load generator processes")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    parser.add_argument("--only", nargs="*", help="only these scenarios")
    parser.add_argument(
        "--irc", action="store_true", help="the IRC door against ngIRCd and InspIRCd instead"
    )
    parser.add_argument(
        "--out",
        default=str(HERE / "runs"),
        help="where results go (default: bench/runs/, untracked; bench/results/ holds those "
        "the documents quote)",
    )
    parser.add_argument(
        "--code",
        nargs="*",
        help="chat checkouts to compare, alternated (chat's servers only, unless --peers; "
        "default: this one)",
    )
    parser.add_argument(
        "--peers",
        action="store_true",
        help="with --code, the other servers too, in the same alternation (a before and "
        "after beside ngIRCd and InspIRCd in one run)",
    )
    return parser.parse_args(argv)


def revision(code: str) -> str:
    """
    How results name the checkout C{code}: its commit, and C{+} if its
    files differ from it (not its path, which says nothing to a reader
    elsewhere).
    """

    def git(*argv: str) -> str:
        found = subprocess.run(["git", *argv], cwd=code, capture_output=True, text=True)
        return found.stdout.strip() if found.returncode == 0 else ""

    where = Path(code).resolve()
    if git("rev-parse", "--show-toplevel") != str(where):
        # Not a checkout of its own (a copy, or a folder inside another one).
        return where.name
    commit = git("rev-parse", "--short", "HEAD")
    return commit + ("+" if git("status", "--porcelain", "--untracked-files=no") else "")


def checkout_labels(codes: list[str]) -> dict[str, str]:
    """
    The name of each checkout in the results: its L{revision}, numbered
    when two share one (a commit against itself, a noise check), since
    the report keys its rows by name.
    """
    labels: dict[str, str] = {}
    seen: dict[str, int] = {}
    for code in codes:
        label = revision(code)
        seen[label] = seen.get(label, 0) + 1
        labels[code] = label if seen[label] == 1 else f"{label} #{seen[label]}"
    return labels


def missing_peers(arguments: argparse.Namespace) -> list[str]:
    """
    The peer servers this run needs and the machine lacks, found before
    anything starts: a missing one would otherwise end the suite minutes in,
    with a traceback, and lose the runs made so far.
    """
    if not arguments.irc or (arguments.code and not arguments.peers):
        return []
    kinds = {step[1] for step in plan_irc(arguments.smoke)}
    if arguments.only:
        kinds = {step[1] for step in plan_irc(arguments.smoke) if step[0] in arguments.only}
    return sorted(kind for kind in kinds & PEERS.keys() if not Path(PEERS[kind]).exists())


def main(argv: list[str] | None = None) -> int:
    arguments = options(argv)
    missing = missing_peers(arguments)
    if missing:
        print(
            f"bench/run.py --irc measures chat against {' and '.join(missing)}, "
            f"not installed here: apt-get install {' '.join(missing)}",
            file=sys.stderr,
        )
        return 2
    started = time.monotonic()
    results = asyncio.run(suite(arguments))
    from report import loss_lines, write_report

    write_report(
        results,
        Path(arguments.out),
        {
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "python": platform.python_version(),
            "machine": f"{os.cpu_count()} cores, {platform.machine()}",
            "runs": arguments.runs,
            "smoke": arguments.smoke,
            "seconds": round(time.monotonic() - started),
            "baselines": ["ngircd", "inspircd"] if arguments.irc else ["floor", "threaded"],
        },
    )
    lost = loss_lines(results)
    for line in lost:
        print(line, file=sys.stderr)
    return 1 if arguments.smoke and lost else 0


if __name__ == "__main__":
    sys.exit(main())
