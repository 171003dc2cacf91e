"""
Attacks, replayed against a real ``twistd -n chat`` on its default limits
(line door and IRC door), measuring what honest users see meanwhile.

    .venv/bin/python bench/hostile.py [--only SCENARIO ...] [--code DIR ...] [--probe]

(``--help`` lists the scenarios.)

Each scenario starts a fresh server (on loopback; attackers connect from
127.0.0.2 and up, the honest users from 127.0.1.x), lets it settle, starts
the honest users, runs the attack for a bounded time, and reports: the
honest users' message latency (a line user says a numbered line every 250
ms, two others time its arrival; an IRC user does the same and times its own
lines coming back through the server; lines that never come are lost), the
time a newcomer takes to log in (one try a second), the server's RSS (peak,
and once the attackers are gone) and CPU, and what the attack achieved.

``--code DIR`` runs the same scenarios against the chat found in DIR (a git
worktree of an older commit, put first on PYTHONPATH), one after the other:
that is how the before/after figures in docs/security.md were made. Every
scenario is bounded in connections and time and stops by itself.
``--probe`` ends each scenario by asking the server where its memory is
(bench/probe.py): the C library's heap, Python's allocator, the transports
and sessions still alive, before and after a garbage collection and
``malloc_trim``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import signal
import socket
import sqlite3
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process import ServerProcess, checkout, free_port

_Logged = TypeVar("_Logged", bound="Client")

OPEN_FILES = 16_384
"""
The server's open-file limit: enough for the 4 900 rooms' holders (the
default --max-clients is this less 100).
"""


def open_files() -> None:
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES, OPEN_FILES))


class Server(ServerProcess):
    """
    ``twistd -n chat`` on its defaults, with the chat found in C{code}.
    """

    def __init__(
        self, code: str, workdir: Path, *options: str, tls: bool = False, probe: bool = False
    ) -> None:
        self.port = free_port()
        self.workdir = workdir
        self.db = workdir / "chat.sqlite3"
        listen = [f"tcp:{self.port}:interface=127.0.0.1"]
        self.tls_port = 0
        if tls:
            self.tls_port = free_port()
            key, cert = workdir / "key.pem", workdir / "cert.pem"
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                 "-subj", "/CN=localhost", "-days", "1", "-keyout", str(key), "-out", str(cert)],
                check=True, capture_output=True,
            )  # fmt: skip
            listen.append(
                f"ssl:{self.tls_port}:privateKey={key}:certKey={cert}:interface=127.0.0.1"
            )
        self.irc_port = free_port()
        start = "from twisted.scripts.twistd import run; run()"
        # Resolved: the server runs in the workdir, where a relative path means nothing.
        code = str(Path(code).resolve())
        environment = dict(os.environ, PYTHONPATH=code)
        self.probe_path = workdir / "probe.jsonl"
        if probe:
            # bench/probe.py, after the chat under test on the path.
            start = "import probe; " + start
            here = str(Path(__file__).resolve().parent)
            environment.update(PYTHONPATH=code + os.pathsep + here, CHAT_PROBE=str(self.probe_path))
        argv = [sys.executable, "-c", start,
                "-n", "--pidfile=", "chat", "--db", str(self.db), *options,
                "--irc", f"tcp:{self.irc_port}:interface=127.0.0.1"]  # fmt: skip
        for endpoint in listen:
            argv += ["--listen", endpoint]
        self.log_path = workdir / "twistd.log"
        self.log = open(self.log_path, "wb")  # noqa: SIM115
        self.peak_kib = 0
        self.launch(argv, "chat", env=environment, cwd=workdir, preexec_fn=open_files)

    def rss_kib(self) -> int:
        kib = super().rss_kib()
        self.peak_kib = max(self.peak_kib, kib)
        return kib

    def log_lines(self) -> int:
        return len(self.log_path.read_bytes().splitlines())

    def log_text(self) -> str:
        return self.log_path.read_bytes().decode(errors="replace")

    async def probed(self) -> list[dict[str, Any]]:
        """
        What bench/probe.py finds in the server: as it is, then after
        malloc_trim, a full garbage collection, and malloc_trim again.
        """
        os.kill(self.pid, signal.SIGUSR1)
        await asyncio.sleep(2)
        os.kill(self.pid, signal.SIGUSR2)
        await asyncio.sleep(3)
        return [json.loads(line) for line in self.probe_path.read_text().splitlines()]


class Client:
    """
    A line-protocol client: lines in, lines out.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, source: str, context: ssl.SSLContext | None = None) -> Client:
        reader, writer = await asyncio.open_connection(
            "127.0.0.1", port, local_addr=(source, 0), ssl=context, limit=1 << 20
        )
        return cls(reader, writer)

    def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\n")

    async def line(self, timeout: float = 30) -> str:
        raw = await asyncio.wait_for(self.reader.readline(), timeout)
        if not raw:
            raise ConnectionError("closed")
        return raw.decode(errors="replace").rstrip("\r\n")

    async def until(self, predicate: Callable[[str], bool], timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        while True:
            line = await self.line(max(0.01, deadline - time.monotonic()))
            if predicate(line):
                return line

    async def login(self, nickname: str, password: str | None = None) -> None:
        self.send(nickname)
        if password is not None:
            await self.until(lambda line: "password" in line)
            self.send(password)
        await self.until(lambda line: line.startswith("*** You are in "))

    def close(self) -> None:
        self.writer.close()


class IRCClient(Client):
    """
    An IRC client: lines in and out, CRLF, registration, PING answered.
    """

    def send(self, line: str) -> None:
        self.writer.write(line.encode() + b"\r\n")

    async def line(self, timeout: float = 30) -> str:
        while True:
            line = await super().line(timeout)
            if line.startswith("PING "):
                self.send("PONG " + line[5:])
                continue
            return line

    async def login(self, nickname: str, password: str | None = None) -> None:
        if password is not None:
            self.send(f"PASS {password}")
        self.send(f"NICK {nickname}")
        self.send(f"USER {nickname} 0 * :{nickname}")
        await self.until(lambda line: line.split(" ", 2)[1:2] in (["376"], ["422"]))

    @staticmethod
    def said(line: str) -> tuple[str, str, str] | None:
        """
        (sender, target, text) of a PRIVMSG line, or L{None}.
        """
        head, colon, text = line.partition(" :")
        words = head.split()
        if colon and len(words) >= 3 and words[1] == "PRIVMSG":
            return words[0].lstrip(":").split("!")[0], words[2], text
        return None


async def irc_logged_in(
    port: int, source: str, nickname: str, password: str | None = None, caps: str = ""
) -> IRCClient:
    client = await IRCClient.open(port, source)
    if caps:
        client.send("CAP LS 302")
        client.send(f"CAP REQ :{caps}")
        client.send("CAP END")
    await client.login(nickname, password)
    return client


async def drain(client: Client) -> None:
    """
    Read what C{client} is sent, if only to throw it away (as an honest user does).
    """
    while await client.reader.read(1 << 16):
        pass


async def repeat(client: Client, line: str, every: float, reading: Awaitable[None]) -> None:
    """
    Send C{line} every C{every} seconds for as long as C{reading} (what reads
    C{client}'s answers) goes on: an attacker stops when the server closes it.
    """
    task = asyncio.ensure_future(reading)
    try:
        while not task.done():
            client.send(line)
            await asyncio.sleep(every)
    finally:
        task.cancel()


async def logged_in(port: int, source: str, nickname: str, password: str | None = None) -> Client:
    client = await Client.open(port, source)
    await client.login(nickname, password)
    return client


class Honest:
    """
    Three honest line users in the lobby, an honest IRC user there timing
    its own lines (echo-message), and a newcomer logging in once a second.
    """

    def __init__(self, port: int, irc_port: int) -> None:
        self.port = port
        self.irc_port = irc_port
        self.latencies: list[float] = []
        self.irc_latencies: list[float] = []
        self.irc_sent = 0
        self.irc_received = 0
        self.logins: list[float] = []
        self.failed_logins = 0
        self.sent = 0
        self.received = [0, 0]
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.speaker = await logged_in(self.port, "127.0.1.1", "honest1")
        self.listeners = [await logged_in(self.port, f"127.0.1.{n}", f"honest{n}") for n in (2, 3)]
        self._tasks = [
            asyncio.create_task(self._speak()),
            asyncio.create_task(drain(self.speaker)),
            asyncio.create_task(self._newcomers()),
        ]
        for n, listener in enumerate(self.listeners):
            self._tasks.append(asyncio.create_task(self._listen(n, listener)))
        self.irc = await irc_logged_in(self.irc_port, "127.0.1.4", "honestirc", caps="echo-message")
        self.irc.send("JOIN #lobby")
        self._tasks += [
            asyncio.create_task(self._irc_speak()),
            asyncio.create_task(self._irc_listen()),
        ]

    async def _speak(self) -> None:
        while True:
            self.speaker.send(f"probe {self.sent} {time.monotonic_ns()}")
            self.sent += 1
            await asyncio.sleep(0.25)  # 4 a second: within the flood limit

    async def _irc_speak(self) -> None:
        while True:
            self.irc.send(f"PRIVMSG #lobby :irc probe {self.irc_sent} {time.monotonic_ns()}")
            self.irc_sent += 1
            await asyncio.sleep(0.25)

    async def _irc_listen(self) -> None:
        while True:
            said = IRCClient.said(await self.irc.line(3600))
            if said is not None and said[0] == "honestirc" and said[2].startswith("irc probe "):
                sent_at = int(said[2].split()[-1])
                self.irc_latencies.append((time.monotonic_ns() - sent_at) / 1e6)
                self.irc_received += 1

    async def _listen(self, n: int, listener: Client) -> None:
        while True:
            line = await listener.line(3600)
            if line.startswith("<honest1> probe "):
                sent_at = int(line.split()[-1])
                self.latencies.append((time.monotonic_ns() - sent_at) / 1e6)
                self.received[n] += 1

    async def _newcomers(self) -> None:
        n = 0
        while True:
            n += 1
            started = time.monotonic()
            try:
                client = await asyncio.wait_for(
                    logged_in(self.port, "127.0.1.10", f"newcomer{n}"), 30
                )
                self.logins.append(time.monotonic() - started)
                client.send("/quit")
                client.close()
            except (OSError, asyncio.TimeoutError, ConnectionError):
                self.failed_logins += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    async def stop(self) -> dict[str, Any]:
        await asyncio.sleep(1.0)  # the last probes' time to arrive
        for task in self._tasks:
            task.cancel()

        def pick(values: list[float], p: float) -> float | None:
            ordered = sorted(values)
            if not ordered:
                return None
            return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 1)

        return {
            "honest_p50_ms": pick(self.latencies, 0.5),
            "honest_p99_ms": pick(self.latencies, 0.99),
            "honest_lost": 2 * self.sent - sum(self.received),
            "honest_irc_p50_ms": pick(self.irc_latencies, 0.5),
            "honest_irc_p99_ms": pick(self.irc_latencies, 0.99),
            "honest_irc_lost": self.irc_sent - self.irc_received,
            "login_p50_s": round(statistics.median(self.logins), 3) if self.logins else None,
            "login_max_s": round(max(self.logins), 3) if self.logins else None,
            "logins_failed": self.failed_logins,
        }


def address(n: int) -> str:
    """
    The n-th attacker's source address, 127.0.0.2 and up (250 a /24).
    """
    return f"127.0.{2 + n // 250}.{2 + n % 250}"


PER_ADDRESS = 12
"""
Connections opened from one address, at once: the connection-rate limit's
burst, under the default --max-per-ip.
"""


async def run_for(seconds: float, server: Server, attack: Awaitable[Any]) -> None:
    """
    Let C{attack} run for C{seconds}, sampling the RSS, then cancel it.
    """
    task = asyncio.ensure_future(attack)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not task.done():
        server.rss_kib()
        await asyncio.sleep(0.2)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await task


# The scenarios. Each returns what the attack achieved; the honest users'
# figures and the server's are added around it.


async def kept(server: Server) -> dict[str, Any]:
    """
    Item 5: 40 connections keep messages for an absent registered alice for
    20 s; then alice logs in and reads. Lost = accepted (the sender was told
    it is kept) and never shown to alice.
    """
    alice = await logged_in(server.port, "127.0.1.20", "alice")
    alice.send("/register sunshine1")
    await alice.until(lambda line: "is now registered" in line)
    alice.send("/quit")
    alice.close()
    accepted = [0]
    size_before = sum(f.stat().st_size for f in server.workdir.glob("chat.sqlite3*"))

    async def sender(n: int) -> None:
        client = await logged_in(server.port, address(n), f"keeper{n}")

        async def count() -> None:
            while True:
                line = await client.line(3600)
                if line.startswith("*** alice is away"):
                    accepted[0] += 1

        counting = asyncio.create_task(count())
        try:
            for m in range(100_000):
                client.send(f"/msg alice message {n}-{m} " + "x" * 1500)
                await asyncio.sleep(0.2)  # the flood limit's 5 a second
        finally:
            counting.cancel()

    await run_for(20, server, asyncio.gather(*(sender(n) for n in range(40))))
    await asyncio.sleep(2)
    size_after = sum(f.stat().st_size for f in server.workdir.glob("chat.sqlite3*"))
    alice = await Client.open(server.port, "127.0.1.20")
    alice.send("alice")
    await alice.until(lambda line: "password" in line)
    alice.send("sunshine1")
    shown, dropped = 0, False
    deadline = time.monotonic() + 150
    try:
        while time.monotonic() < deadline:
            line = await alice.line(5)
            if line.startswith("[") and "*keeper" in line:
                shown += 1
    except asyncio.TimeoutError:
        pass
    except ConnectionError:
        dropped = True
    return {
        "accepted": accepted[0],
        "shown_to_alice": shown,
        "lost": accepted[0] - shown,
        "alice_dropped": dropped,
        "db_growth_mb": round((size_after - size_before) / 1e6, 1),
    }


def fill_history(code: str, db: Path, count: int) -> None:
    """
    C{count} messages in the lobby, written before the server starts, with
    the schema of the chat in C{code}.
    """
    script = f"""
import random, time
from chat.store import database
db = database.connect({str(db)!r})
words = ["w%d" % n for n in range(50000)]
random.seed(1)
for start in range(0, {count}, 10000):
    rows = [(time.time(), database.PUBLIC, "lobby", "old", None,
             " ".join(random.choices(words, k=12))) for _ in range(10000)]
    database.write(db.cursor(), rows)
    db.commit()
if hasattr(database, "index"):
    database.index(db.cursor())
    db.commit()
db.close()
"""
    subprocess.run([sys.executable, "-c", script], check=True, **checkout(code))


async def search(server: Server) -> dict[str, Any]:
    """
    Item 6: three connections send 300-word searches over and over on a
    history of 200 000 messages; how long a /join takes (its history is
    read), and its wait for its first live line.
    """
    # Prefixes of the history's own words: each matches thousands of messages.
    words = " ".join(f"w{n}" for n in range(1, 301))
    answered = [0]

    async def searcher(n: int) -> None:
        client = await logged_in(server.port, address(n), f"searcher{n}")
        while True:
            client.send(f"/search {words}")
            await client.until(lambda line: line.startswith(("*** ", "!!! ")), 600)
            answered[0] += 1

    attack = asyncio.gather(*(searcher(n) for n in range(3)))
    task = asyncio.ensure_future(attack)
    await asyncio.sleep(5)
    joiner = await logged_in(server.port, "127.0.1.30", "joiner")
    started = time.monotonic()
    joiner.send("/join lobby2")
    await joiner.until(lambda line: line.startswith("*** You are in lobby2"), 120)
    join_s = round(time.monotonic() - started, 3)
    talker = await logged_in(server.port, "127.0.1.31", "talker")
    talker.send("/join lobby2")
    await talker.until(lambda line: line.startswith("*** You are in lobby2"), 120)
    started = time.monotonic()
    talker.send("live line")
    try:
        await joiner.until(lambda line: line == "<talker> live line", 120)
        live_wait = round(time.monotonic() - started, 3)
    except asyncio.TimeoutError:
        live_wait = None
    await run_for(15, server, task)
    return {"searches_answered": answered[0], "join_s": join_s, "live_line_wait_s": live_wait}


async def searchlane(server: Server) -> dict[str, Any]:
    """
    Issue 21 item 11: 64 connections (12 an address) send 8-word searches
    (word prefixes that match) over and over on a history of 200 000
    messages, each as soon as its last is answered, for 20 s. Meanwhile a
    newcomer logs in to the lobby once a second: how long its lobby history
    takes to come (its live lines are held until it has).
    """
    words = " ".join(f"w{n}" for n in range(1, 9))
    answered = [0]
    waits: list[float] = []

    def done(line: str) -> bool:
        return line == "*** End of history." or line.startswith(("*** No messages", "!!! "))

    dropped = [0]

    async def searcher(n: int) -> None:
        # Logged in again whenever the server closes the connection (the
        # login share of an address, flooding): one searcher's failure
        # must not end the others' attack.
        while True:
            try:
                client = await line_from(server.port, address(n // PER_ADDRESS), f"lane{n}")
            except ConnectionError:
                continue
            try:
                while True:
                    client.send(f"/search {words}")
                    await client.until(done, 600)
                    answered[0] += 1
            except (OSError, ConnectionError, asyncio.TimeoutError):
                dropped[0] += 1
                client.close()
                await asyncio.sleep(0.5)

    waiting_since: list[float | None] = [None]

    async def newcomers() -> None:
        await asyncio.sleep(2)  # the searches under way first
        n = 0
        while True:
            n += 1
            started = waiting_since[0] = time.monotonic()
            client = await Client.open(server.port, "127.0.1.30")
            client.send(f"late{n}")
            try:
                await client.until(lambda line: line == "*** End of history.", 60)
                waits.append(time.monotonic() - started)
            except (OSError, ConnectionError, asyncio.TimeoutError):
                waits.append(float("inf"))
            waiting_since[0] = None
            client.send("/quit")
            client.close()
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    await run_for(20, server, asyncio.gather(newcomers(), *(searcher(n) for n in range(64))))
    # A newcomer still waiting when the attack ends has waited at least this.
    still = waiting_since[0]
    ordered = sorted(waits)
    return {
        "searches_answered": answered[0],
        "searchers_dropped": dropped[0],
        "history_p50_s": round(ordered[len(ordered) // 2], 3) if ordered else None,
        "history_max_s": round(ordered[-1], 3) if ordered else None,
        "newcomers": len(ordered),
        "newcomers_without_history": sum(wait == float("inf") for wait in ordered),
        "history_still_waiting_s": None if still is None else round(time.monotonic() - still, 3),
    }


async def register(server: Server) -> dict[str, Any]:
    """
    Item 10: 100 connections from one address loop: log in as a new name,
    /register, quit; for 20 s.
    """
    tried = [0]

    async def looper(n: int) -> None:
        for m in range(10_000):
            try:
                client = await logged_in(server.port, "127.0.0.2", f"reg{n}x{m}")
            except (OSError, ConnectionError, asyncio.TimeoutError):
                await asyncio.sleep(0.2)
                continue
            client.send("/register secret123")
            tried[0] += 1
            try:
                await client.until(lambda line: line.startswith(("*** reg", "!!! ")), 30)
            finally:
                client.close()

    cpu = server.cpu()
    started = time.monotonic()
    await run_for(20, server, asyncio.gather(*(looper(n) for n in range(100))))
    cpu_percent = round((server.cpu() - cpu) / (time.monotonic() - started) * 100)
    await asyncio.sleep(1)
    db = sqlite3.connect(server.db)
    registered = int(db.execute("SELECT count(*) FROM accounts").fetchone()[0])
    db.close()
    return {"registrations_tried": tried[0], "accounts": registered, "cpu_percent": cpu_percent}


async def never_reading(port: int, source: str, nickname: str) -> Client:
    """
    A line client logged in from C{source} with a 4 KiB receive buffer,
    which from then on reads nothing (asyncio stops reading once its own
    buffer is full): the kernel and the server hold what is sent to it.
    """
    reader_socket = socket.socket()
    reader_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    reader_socket.bind((source, 0))
    reader_socket.setblocking(False)
    await asyncio.get_running_loop().sock_connect(reader_socket, ("127.0.0.1", port))
    reader, writer = await asyncio.open_connection(sock=reader_socket, limit=1 << 20)
    client = Client(reader, writer)
    await client.login(nickname)
    writer.transport.pause_reading()
    return client


async def bursts(talkers: list[Client]) -> None:
    """
    Each talker writes four lines of 1 900 bytes in one write, once a
    second: within 5/s and its burst. A burst is written to each client as
    one piece of its own (one line alone would be the same bytes object
    queued for every client), so only bursts are memory the server holds.
    """
    m = 0
    while True:
        for talker in talkers:
            talker.writer.write(
                b"".join(b"%d %d " % (m, k) + b"y" * 1900 + b"\n" for k in range(4))
            )
        m += 1
        await asyncio.sleep(1.0)


async def sendq(server: Server) -> dict[str, Any]:
    """
    Item 11: 200 logged-in clients that never read (from 17 addresses, 12
    each) and 20 talkers within the flood limit (4 lines of 1 900 bytes a
    second each, in one write), for 45 s: the kernel holds up to 4 MiB for each before the
    server holds anything, so fewer clients than the audit's 1 000, each
    sent more, in a bounded time. An honest client that reads at 100 KB/s.
    Memory while it lasts, and after all are gone.
    """
    idle = [
        await never_reading(server.port, address(n // PER_ADDRESS), f"sink{n}") for n in range(200)
    ]
    slow = await logged_in(server.port, "127.0.1.40", "slowreader")
    slow.writer.transport.pause_reading()
    slow_dropped = [False]

    async def read_slowly() -> None:
        while True:
            slow.writer.transport.resume_reading()
            try:
                data = await asyncio.wait_for(slow.reader.read(10_000), 5)
            except asyncio.TimeoutError:
                data = b"."
            slow.writer.transport.pause_reading()
            if not data:
                slow_dropped[0] = True
                return
            await asyncio.sleep(0.1)  # 10 000 bytes each 0.1 s: 100 KB/s

    talkers = [await logged_in(server.port, f"127.0.1.{50 + n}", f"talker{n}") for n in range(20)]

    draining = [asyncio.create_task(drain(talker)) for talker in talkers]
    reading = asyncio.create_task(read_slowly())
    await run_for(45, server, bursts(talkers))
    peak = server.peak_kib
    for client in idle:
        client.writer.transport.abort()
    await asyncio.sleep(5)
    after = server.rss_kib()
    reading.cancel()
    for task in draining:
        task.cancel()
    return {
        "rss_peak_mb": round(peak / 1024),
        "rss_after_all_gone_mb": round(after / 1024),
        "slow_reader_dropped": slow_dropped[0],
    }


async def neverread(server: Server) -> dict[str, Any]:
    """
    Issue 21, item 17: 1 000 logged-in clients that never read (from 84
    addresses, 12 each) and 20 talkers within the flood limit (4 lines of
    1 900 bytes in one write, once a second each), for 30 s: every
    non-reader is dropped at the send queue or the overall budget. Memory at
    its peak, when the server has dropped them all, and once they are gone
    (5 s and 20 s after).
    """
    idle = [
        await never_reading(server.port, address(n // PER_ADDRESS), f"sink{n}") for n in range(1000)
    ]
    talkers = [await logged_in(server.port, f"127.0.1.{50 + n}", f"talker{n}") for n in range(20)]
    server.rss_kib()
    logged_in_kib = server.peak_kib

    draining = [asyncio.create_task(drain(talker)) for talker in talkers]
    started = time.monotonic()
    await run_for(30, server, bursts(talkers))
    attack_s = time.monotonic() - started
    dropped = server.log_text().count("] Dropping ")
    rss_dropped = server.rss_kib()
    for client in idle:
        client.writer.transport.abort()
    await asyncio.sleep(5)
    after = server.rss_kib()
    await asyncio.sleep(15)
    later = server.rss_kib()
    for task in draining:
        task.cancel()
    return {
        "rss_logged_in_mb": round(logged_in_kib / 1024),
        "rss_peak_mb": round(server.peak_kib / 1024),
        "rss_all_dropped_mb": round(rss_dropped / 1024),
        "rss_after_all_gone_mb": round(after / 1024),
        "rss_20s_after_mb": round(later / 1024),
        "dropped_too_slow": dropped,
        "attack_s": round(attack_s),
    }


async def rooms(server: Server) -> dict[str, Any]:
    """
    Item 13: 4 900 rooms (a user in each, 12 users an address), then 20
    connections asking /rooms at 4.5 a second each, for 20 s.
    """
    holders = []
    for n in range(4900):
        client = await logged_in(server.port, address(n // PER_ADDRESS), f"holder{n}")
        client.send(f"/join room{n}")
        holders.append(client)
    for client in holders:
        await client.until(lambda line: line.startswith("*** You are in room"))
    received = [0]
    closed = [0]

    async def lister(n: int) -> None:
        client = await logged_in(server.port, address(500 + n), f"lister{n}")

        async def drain() -> None:
            while data := await client.reader.read(1 << 20):
                received[0] += len(data)
            closed[0] += 1

        await repeat(client, "/rooms", 1 / 4.5, drain())

    await run_for(20, server, asyncio.gather(*(lister(n) for n in range(20))))
    return {"listing_mb_sent": round(received[0] / 1e6, 1), "listers_closed": closed[0]}


async def tls(server: Server) -> dict[str, Any]:
    """
    Item 14: 100 connections from one address doing TLS handshakes over
    and over for 20 s; honest users on plain TCP. Handshakes done, log lines.
    """
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    handshakes = [0]
    lines_before = server.log_lines()

    async def churn() -> None:
        while True:
            try:
                _, writer = await asyncio.wait_for(
                    asyncio.open_connection(
                        "127.0.0.1", server.tls_port, ssl=context, local_addr=("127.0.0.2", 0)
                    ),
                    10,
                )
                handshakes[0] += 1
                writer.transport.abort()
            except (OSError, ssl.SSLError, asyncio.TimeoutError, ConnectionError):
                await asyncio.sleep(0.01)

    await run_for(20, server, asyncio.gather(*(churn() for _ in range(100))))
    return {
        "handshakes_per_s": round(handshakes[0] / 20),
        "log_lines": server.log_lines() - lines_before,
    }


async def patiently(login: Callable[[], Awaitable[_Logged]], nickname: str) -> _Logged:
    """
    What C{login} logs in, tried again until it is let in: waiting its turn
    under the connection-rate limit (12 at once from an address, then 1 a
    second) and the share of connections still logging in.
    """
    for _ in range(60):
        try:
            return await asyncio.wait_for(login(), 10)
        except (OSError, ConnectionError, asyncio.TimeoutError):
            await asyncio.sleep(0.5)
    raise ConnectionError(f"{nickname} could not log in")


async def line_from(port: int, source: str, nickname: str) -> Client:
    """
    A line client logged in from C{source}, L{patiently}.
    """
    return await patiently(lambda: logged_in(port, source, nickname), nickname)


async def irc_from(port: int, source: str, nickname: str) -> IRCClient:
    """
    An IRC client logged in from C{source}, L{patiently}.
    """
    return await patiently(lambda: irc_logged_in(port, source, nickname), nickname)


async def banlist(server: Server) -> dict[str, Any]:
    """
    Item 1 of issue 21: 16 IRC connections from one address, all operators
    of #pit, each sending MODE #pit +b with 60 new masks five times a second
    (within the flood limit), for 20 s. The masks sent and kept, and how
    long three IRC newcomers' JOINs to #pit take afterwards (no mask names
    them: only the length of the list can slow them).
    """
    attackers = [await irc_from(server.irc_port, "127.0.0.2", f"pit{n}") for n in range(16)]
    first = attackers[0]
    first.send("JOIN #pit")
    await first.until(lambda line: " 366 " in line)
    for client in attackers[1:]:
        client.send("JOIN #pit")
        await client.until(lambda line: " 366 " in line)
    first.send("MODE #pit +" + "o" * 15 + " " + " ".join(f"pit{n}" for n in range(1, 16)))
    draining = [asyncio.create_task(drain(client)) for client in attackers]
    sent = [0]

    async def attack(n: int, client: IRCClient) -> None:
        m = 0
        while True:
            masks = []
            for _ in range(60):
                # Short masks (a letter for the attacker, a count in hex):
                # 60 of them fit in one 512-byte line.
                masks.append(f"{chr(97 + n)}{m:x}")
                m += 1
            client.send("MODE #pit +" + "b" * 60 + " " + " ".join(masks))
            sent[0] += 60
            await asyncio.sleep(0.2)

    await run_for(20, server, asyncio.gather(*(attack(n, c) for n, c in enumerate(attackers))))
    for task in draining:
        task.cancel()

    async def join_time(nickname: str) -> tuple[float | None, float | None]:
        # How long logging in, then the JOIN, take; None for what did not
        # come within two minutes (a server still busy with the attack's
        # backlog may not answer a newcomer at all).
        started = time.monotonic()
        try:
            newcomer = await asyncio.wait_for(
                irc_logged_in(server.irc_port, "127.0.1.60", nickname), 120
            )
        except (OSError, ConnectionError, asyncio.TimeoutError):
            return None, None
        logged_in = time.monotonic()
        newcomer.send("JOIN #pit")
        try:
            await newcomer.until(lambda line: line.split(" ", 2)[1:2] in (["366"], ["474"]), 120)
        except (OSError, ConnectionError, asyncio.TimeoutError):
            newcomer.close()
            return round(logged_in - started, 3), None
        joined = time.monotonic()
        newcomer.send("QUIT")
        newcomer.close()
        return round(logged_in - started, 3), round(joined - logged_in, 3)

    timed = [await join_time(f"late{k}") for k in range(3)]
    logins = [login for login, _ in timed]
    joins = [join for _, join in timed]
    lister = attackers[0]
    lister.send("MODE #pit b")
    listed = 0
    kept: int | None = None
    try:
        while True:
            line = await lister.line(120)
            if " 368 " in line:
                kept = listed
                break
            listed += " 367 " in line
    except (OSError, ConnectionError, asyncio.TimeoutError):
        pass
    for client in attackers:
        client.close()
    return {
        "masks_sent": sent[0],
        "masks_kept": kept,
        "login_s": logins,
        "join_pit_s": joins,
    }


def history_rows(server: Server) -> int:
    """
    How many messages the server's database holds.
    """
    db = sqlite3.connect(server.db)
    try:
        return int(db.execute("SELECT count(*) FROM messages").fetchone()[0])
    finally:
        db.close()


async def targets(server: Server) -> dict[str, Any]:
    """
    Issue 21, item 6: 10 IRC connections in the lobby each send a PRIVMSG
    naming #lobby 60 times, 4 lines a second (within the flood limit), and
    one sends a TAGMSG naming an honest IRC client 70 times with 4 KB of
    tags, 4 a second, for 20 s. Spam lines a lobby watcher got, history rows
    written, and whether the victim (which reads) was dropped as too slow.
    """
    victim = await irc_logged_in(server.irc_port, "127.0.1.60", "victim", caps="message-tags")
    victim_dropped = [False]

    async def read_victim() -> None:
        while await victim.reader.read(1 << 16):
            pass
        victim_dropped[0] = True

    watcher = await logged_in(server.port, "127.0.1.61", "watcher")
    spam = [0]

    async def watch() -> None:
        while True:
            line = await watcher.line(3600)
            if line.startswith("<spammer") and line.endswith("> spam"):
                spam[0] += 1

    # One after the other: an address may have only a few connections logging in at once.
    spammers = [await irc_logged_in(server.irc_port, address(0), f"spammer{n}") for n in range(10)]
    tagging = await irc_logged_in(server.irc_port, address(1), "tagger", caps="message-tags")

    async def spammer(client: IRCClient) -> None:
        client.send("JOIN #lobby")
        await repeat(client, "PRIVMSG " + ",".join(["#lobby"] * 60) + " :spam", 0.25, drain(client))

    async def tagger(client: IRCClient) -> None:
        line = "@+x=" + "y" * 4000 + " TAGMSG " + ",".join(["victim"] * 70)
        await repeat(client, line, 0.25, drain(client))

    reading = [asyncio.create_task(read_victim()), asyncio.create_task(watch())]
    rows = history_rows(server)
    await run_for(20, server, asyncio.gather(*map(spammer, spammers), tagger(tagging)))
    await asyncio.sleep(2)  # the history written in batches
    for task in reading:
        task.cancel()
    return {
        "spam_lines_seen": spam[0],
        "history_rows_written": history_rows(server) - rows,
        "victim_dropped": victim_dropped[0],
    }


async def listings(server: Server) -> dict[str, Any]:
    """
    Issue 21, item 8: 2 000 users online (in the lobby, 12 an address); 16
    IRC connections from two addresses loop C{WHO *} (each asks again once
    answered), 4 others send C{NAMES} naming #lobby 60 times, 4 a second,
    for 20 s. What they were sent, and how many were closed for flooding.
    """
    idle = [
        await logged_in(server.port, address(n // PER_ADDRESS), f"idle{n}") for n in range(2000)
    ]
    received = [0]
    closed = [0]

    async def count(client: IRCClient) -> None:
        while data := await client.reader.read(1 << 20):
            received[0] += len(data)
        closed[0] += 1

    whos = [
        await irc_logged_in(server.irc_port, address(200 + n // 8), f"who{n}") for n in range(16)
    ]
    names = [await irc_logged_in(server.irc_port, address(202), f"names{n}") for n in range(4)]

    async def who_looper(client: IRCClient) -> None:
        client.send("WHO *")
        while True:
            line = await client.line(3600)
            received[0] += len(line) + 2
            if line.split(" ", 2)[1:2] == ["315"]:
                client.send("WHO *")

    async def names_looper(client: IRCClient) -> None:
        await repeat(client, "NAMES " + ",".join(["#lobby"] * 60), 0.25, count(client))

    async def who_counted(client: IRCClient) -> None:
        try:
            await who_looper(client)
        except (ConnectionError, asyncio.TimeoutError):
            closed[0] += 1

    await run_for(20, server, asyncio.gather(*map(who_counted, whos), *map(names_looper, names)))
    for client in idle:
        client.close()
    return {"listings_mb_sent": round(received[0] / 1e6, 1), "listers_closed": closed[0]}


async def halfopen(server: Server) -> dict[str, Any]:
    """
    Issue 21, item 13: against --max-clients 924 (a server with 1 024 open
    files), 60 addresses of 16 IRC connections each send C{CAP LS 302} and
    nothing more, and connect again whenever closed, for 20 s. The most
    places they held at once, and how many of their tries were refused.
    """
    held = [0, 0]  # now, most
    refused = [0]

    async def holder(n: int) -> None:
        while True:
            try:
                reader, writer = await asyncio.open_connection(
                    "127.0.0.1", server.irc_port, local_addr=(address(n // 16), 0)
                )
            except OSError:
                await asyncio.sleep(1)
                continue
            writer.write(b"CAP LS 302\r\n")
            try:
                first = await reader.readline()
            except OSError:
                first = b""
            if b" CAP " not in first:
                refused[0] += 1
                writer.close()
                await asyncio.sleep(1)
                continue
            held[0] += 1
            held[1] = max(held)
            try:
                while await reader.read(1 << 16):
                    pass
            except OSError:
                pass
            finally:
                held[0] -= 1
                writer.close()

    await run_for(20, server, asyncio.gather(*(holder(n) for n in range(60 * 16))))
    return {"most_places_held": held[1], "tries_refused": refused[0]}


ATTACKER_PASSWORD = "sunshine1"


def seed_accounts(code: str, db: Path, nicknames: list[str]) -> None:
    """
    C{nicknames} registered with L{ATTACKER_PASSWORD} (one hash, at the real
    cost, for all) before the server starts, with the schema of the chat in
    C{code}: the attack spends nothing of its allowances on registering.
    """
    script = f"""
import time
from chat.store import database
from chat.store.accounts import hash_password
db = database.connect({str(db)!r})
hashed = hash_password({ATTACKER_PASSWORD!r})
for nickname in {nicknames!r}:
    database.create_account(db.cursor(), nickname, hashed, time.time())
db.commit()
db.close()
"""
    subprocess.run([sys.executable, "-c", script], check=True, **checkout(code))


HASHING_ADDRESSES = (4, 16)
HASHING_CONNECTIONS = 4
"""
Issue 21, item 7's attack: 4 addresses, then 16, each with 4 connections (2
IRC, 2 line), one account each, and a registered honest user.
"""


def hashing_accounts() -> list[str]:
    return ["regular"] + [
        f"victim{a}x{k}" for a in range(max(HASHING_ADDRESSES)) for k in range(HASHING_CONNECTIONS)
    ]


async def hashing(server: Server) -> dict[str, Any]:
    """
    Issue 21, item 7: password checks that each cost the server a hash,
    looped at the flood limit (5 lines a second a connection) from 4
    addresses for 10 s, then from 16 for 10 s: on IRC, NickServ IDENTIFY,
    REGAIN and OPER of the connection's own account with its right
    password; on the line door, a login and then /password with a wrong
    old password, reconnecting whenever closed. Per phase: the server's
    CPU, the checks sent and those refused, and how long a registered
    honest user's login takes (once a second, each from an address of its
    own, as many people logging in now and then: one address logging in
    every second would be one more address that keeps hashing).
    """
    phase = [0]
    sent = [0, 0]
    refused = [0, 0]
    logins: list[list[float]] = [[], []]
    failed_logins = [0, 0]

    async def count_refusals(client: Client) -> None:
        with contextlib.suppress(ConnectionError, OSError, asyncio.TimeoutError):
            while True:
                line = await client.line(3600)
                if "Too many password checks" in line or "Too many wrong passwords" in line:
                    refused[phase[0]] += 1

    async def loop(client: Client, checks: list[str]) -> None:
        reading = asyncio.create_task(count_refusals(client))
        try:
            n = 0
            while not reading.done():
                client.send(checks[n % len(checks)].format(n=n))
                sent[phase[0]] += 1
                n += 1
                await asyncio.sleep(0.2)
        finally:
            reading.cancel()
            client.close()

    async def irc_attacker(source: str, nickname: str, account: str) -> None:
        checks = [
            f"PRIVMSG NickServ :IDENTIFY {account} {ATTACKER_PASSWORD}",
            f"PRIVMSG NickServ :REGAIN {account} {ATTACKER_PASSWORD}",
            f"OPER {account} {ATTACKER_PASSWORD}",
        ]
        while True:
            try:
                client = await asyncio.wait_for(
                    irc_logged_in(server.irc_port, source, nickname), 10
                )
            except (OSError, ConnectionError, asyncio.TimeoutError):
                await asyncio.sleep(0.5)
                continue
            await loop(client, checks)

    async def line_attacker(source: str, account: str) -> None:
        while True:
            try:
                client = await Client.open(server.port, source)
            except (OSError, ConnectionError):
                await asyncio.sleep(0.5)
                continue
            client.send(account)
            client.send(ATTACKER_PASSWORD)
            sent[phase[0]] += 1
            await loop(client, ["/password wrong{n}x newpass{n}"])

    def attackers(first: int, last: int) -> list[Awaitable[None]]:
        started: list[Awaitable[None]] = []
        for a in range(first, last):
            source = address(a)
            for k in range(HASHING_CONNECTIONS):
                account = f"victim{a}x{k}"
                if k % 2:
                    started.append(line_attacker(source, account))
                else:
                    started.append(irc_attacker(source, f"irc{a}x{k}", account))
        return started

    async def registered_logins() -> None:
        n = 0
        while True:
            n += 1
            started = time.monotonic()
            source = f"127.0.1.{100 + n % 100}"
            try:
                client = await asyncio.wait_for(
                    logged_in(server.port, source, "regular", ATTACKER_PASSWORD), 30
                )
                logins[phase[0]].append(time.monotonic() - started)
                client.send("/quit")
                client.close()
            except (OSError, asyncio.TimeoutError, ConnectionError):
                failed_logins[phase[0]] += 1
            await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    figures: dict[str, Any] = {}
    honest = asyncio.create_task(registered_logins())
    few, many = HASHING_ADDRESSES
    tasks = [asyncio.ensure_future(asyncio.gather(*attackers(0, few)))]
    for index, count in enumerate(HASHING_ADDRESSES):
        phase[0] = index
        if index:
            tasks.append(asyncio.ensure_future(asyncio.gather(*attackers(few, many))))
        cpu = server.cpu()
        started = time.monotonic()
        await run_for(10, server, asyncio.sleep(10))
        figures[f"cpu_percent_{count}"] = round(
            (server.cpu() - cpu) / (time.monotonic() - started) * 100
        )
        figures[f"checks_sent_{count}"] = sent[index]
        figures[f"checks_refused_{count}"] = refused[index]
        ordered = sorted(logins[index])
        figures[f"registered_login_p50_s_{count}"] = (
            round(statistics.median(ordered), 3) if ordered else None
        )
        figures[f"registered_login_max_s_{count}"] = round(ordered[-1], 3) if ordered else None
        figures[f"registered_logins_failed_{count}"] = failed_logins[index]
    for task in [*tasks, honest]:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task
    return figures


SCENARIOS: dict[str, Callable[[Server], Awaitable[dict[str, Any]]]] = {
    "kept": kept,
    "search": search,
    "searchlane": searchlane,
    "register": register,
    "sendq": sendq,
    "neverread": neverread,
    "rooms": rooms,
    "tls": tls,
    "banlist": banlist,
    "targets": targets,
    "listings": listings,
    "halfopen": halfopen,
    "hashing": hashing,
}

OPTIONS: dict[str, tuple[str, ...]] = {"halfopen": ("--max-clients", "924")}
"""
What a scenario's server is started with, beyond its defaults.
"""


async def measure(name: str, code: str, probe: bool = False) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix=f"chat-hostile-{name}-"))
    if name in ("search", "searchlane"):
        fill_history(code, workdir / "chat.sqlite3", 200_000)
    if name == "hashing":
        seed_accounts(code, workdir / "chat.sqlite3", hashing_accounts())
    server = Server(code, workdir, *OPTIONS.get(name, ()), tls=name == "tls", probe=probe)
    try:
        await asyncio.sleep(1)
        rss_start = server.rss_kib()
        honest = Honest(server.port, server.irc_port)
        await honest.start()
        await asyncio.sleep(2)
        achieved = await SCENARIOS[name](server)
        figures = await honest.stop()
        if probe:
            figures["probe"] = await server.probed()
        return {
            "scenario": name,
            "code": code,
            "rss_start_mb": round(rss_start / 1024),
            "rss_peak_mb": round(server.peak_kib / 1024),
            **achieved,
            **figures,
            "server_alive": server.process.poll() is None,
        }
    finally:
        server.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", choices=list(SCENARIOS), help="only these")
    parser.add_argument("--code", nargs="*", help="chat checkouts to compare (default: this one)")
    parser.add_argument(
        "--probe",
        action="store_true",
        help="at the end, ask the server where its memory is (bench/probe.py)",
    )
    arguments = parser.parse_args()
    here = str(Path(__file__).resolve().parent.parent)
    for name in arguments.only or list(SCENARIOS):
        for code in arguments.code or [here]:
            print(json.dumps(await measure(name, code, arguments.probe)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
