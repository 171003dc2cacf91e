"""
A bounded soak test: many clients on loopback doing random things, abrupt disconnects included.

    .venv/bin/python bench/soak.py [--clients 1000] [--seconds 60] [--seed 1]

It starts `twistd -n chat` itself (history in memory, rate limits off, no
per-address limit), connects the clients, lets them act for the given time,
stops the server with SIGTERM and prints one JSON record:

- errors: lines the server logged as errors or tracebacks (must be 0);
- lost: messages the server accepted that did not arrive (must be 0). A few
  watchers stay in the lobby all along: every line a client says while in the
  lobby must reach each of them, and every whisper to a watcher that its
  sender saw confirmed must reach that watcher. A line counts as accepted once
  the server has answered a command sent after it (it handles each client's
  lines in order); a line still unanswered when its client drops the
  connection abruptly may rightly never have been read, and is not counted;
- watchers_dropped: watchers the server dropped (it must not: if the load
  generator is too slow to read, the run proves nothing and says so);
- rss_start_kib, rss_end_kib: the server's resident memory once everyone is
  logged in, and at the end.

The exit status is 1 if anything was lost or logged as an error. Every loop is
bounded by the duration; the load targets 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from process import rss_kib

ROOMS = ["lobby", "games", "dev", "music", "random"]
WATCHERS = 3


class Line:
    """
    One connection, read line by line.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Line:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=1 << 20)
        return cls(reader, writer)

    def send(self, text: str) -> None:
        self.writer.write(text.encode() + b"\n")

    async def read(self) -> str | None:
        raw = await self.reader.readline()
        return raw.decode("utf-8", "replace").rstrip("\r\n") if raw else None

    def drop(self) -> None:
        self.writer.transport.abort()


class Soak:
    def __init__(self, port: int, clients: int, seconds: float, seed: int) -> None:
        self.port = port
        self.clients = clients
        self.deadline = time.monotonic() + seconds
        self.random = random.Random(seed)
        # Watcher nickname -> lines it received.
        self.received: dict[str, set[str]] = defaultdict(set)
        # Lines each watcher must receive.
        self.expected: dict[str, set[str]] = defaultdict(set)
        self.actions: dict[str, int] = defaultdict(int)
        self.unproven: dict[str, list[tuple[int, str]]] = {}
        self.commands: dict[str, list[int]] = {}
        self.ready = asyncio.Event()
        self.logged_in = 0
        self.watchers_dropped = 0

    async def watcher(self, name: str) -> None:
        line = await Line.open(self.port)
        line.send(name)
        while True:
            text = await line.read()
            if text is None:
                if time.monotonic() < self.deadline:
                    self.watchers_dropped += 1
                return
            self.received[name].add(text)

    async def login(self, line: Line, nickname: str) -> bool:
        line.send(nickname)
        while True:
            text = await line.read()
            if text is None:
                return False
            if text.startswith("*** You are in lobby."):
                return True
            if text.startswith("!!! The nickname"):
                return False

    async def client(self, number: int) -> None:
        generation = 0
        while time.monotonic() < self.deadline:
            nickname = f"c{number}g{generation}"
            generation += 1
            line = await Line.open(self.port)
            if not await self.login(line, nickname):
                line.drop()
                continue
            self.logged_in += 1
            if self.logged_in >= self.clients:
                self.ready.set()
            await self.act(line, nickname)

    async def act(self, line: Line, nickname: str) -> None:
        room = "lobby"
        sequence = 0
        # Lines said in the lobby, waiting for proof that the server read them,
        # and the commands sent after them, whose answers are that proof.
        self.unproven[nickname] = []
        self.commands[nickname] = []
        reading = asyncio.ensure_future(self.drain(line, nickname))
        try:
            while time.monotonic() < self.deadline:
                await asyncio.sleep(self.random.uniform(0.05, 0.5))
                choice = self.random.random()
                sequence += 1
                if choice < 0.5:
                    text = f"{nickname}-{sequence} says hello \x1b[31m"
                    line.send(text)
                    if room == "lobby":
                        shown = f"<{nickname}> {nickname}-{sequence} says hello [31m"
                        self.unproven[nickname].append((sequence, shown))
                    self.actions["say"] += 1
                elif choice < 0.65:
                    watcher = self.random.choice(self.watchers)
                    line.send(f"/msg {watcher} {nickname}-{sequence} psst")
                    self.commands[nickname].append(sequence)
                    self.actions["whisper"] += 1
                elif choice < 0.8:
                    room = self.random.choice([r for r in ROOMS if r != room])
                    line.send(f"/join {room}")
                    self.commands[nickname].append(sequence)
                    self.actions["join"] += 1
                elif choice < 0.85:
                    line.send("/who")
                    self.commands[nickname].append(sequence)
                    self.actions["who"] += 1
                elif choice < 0.93:
                    line.send("/quit soak")
                    self.commands[nickname].append(sequence)
                    self.actions["quit"] += 1
                    await reading
                    return
                else:
                    self.actions["drop"] += 1
                    line.drop()
                    return
        finally:
            if not reading.done():
                line.drop()
                reading.cancel()

    async def drain(self, line: Line, nickname: str) -> None:
        """
        Read what the server sends; a confirmed whisper to a watcher becomes an expectation.
        """
        while True:
            text = await line.read()
            if text is None:
                return
            confirmed = re.fullmatch(r"-> \*(w\d+)\* (.*)", text)
            if confirmed:
                self.expected[confirmed.group(1)].add(f"*{nickname}* {confirmed.group(2)}")
            answer = text.startswith(("*** You are in ", "*** Goodbye."))
            if confirmed or answer or re.match(r"\*\*\* \d+ users? in ", text):
                # The answer to the oldest command: everything said before it was read.
                answered = self.commands[nickname].pop(0)
                still = []
                for said, shown in self.unproven[nickname]:
                    if said < answered:
                        for watcher in self.watchers:
                            self.expected[watcher].add(shown)
                    else:
                        still.append((said, shown))
                self.unproven[nickname] = still

    async def run(self) -> dict[str, object]:
        self.watchers = [f"w{n}" for n in range(WATCHERS)]
        watching = [asyncio.ensure_future(self.watcher(name)) for name in self.watchers]
        await asyncio.sleep(0.5)
        clients = [asyncio.ensure_future(self.client(n)) for n in range(self.clients)]
        await asyncio.wait([asyncio.ensure_future(self.ready.wait())], timeout=60)
        self.rss_start = rss_kib(self.pid)
        # A failure of the load generator itself must fail the run, not vanish.
        await asyncio.gather(*clients)
        await asyncio.sleep(1)  # the last lines reach the watchers
        self.rss_end = rss_kib(self.pid)
        for task in watching:
            task.cancel()
        lost = sum(len(self.expected[w] - self.received[w]) for w in self.watchers)
        return {
            "expected_deliveries": sum(len(e) for e in self.expected.values()),
            "lost": lost,
            "watchers_dropped": self.watchers_dropped,
            "actions": dict(self.actions),
        }


async def main(arguments: argparse.Namespace) -> int:
    workdir = tempfile.mkdtemp()
    log_path = Path(workdir) / "server.log"
    with open(log_path, "wb") as log:
        server = await asyncio.create_subprocess_exec(
            sys.executable, "-c", "from twisted.scripts.twistd import run; run()",
            "-n", "--pidfile=", "chat", "--listen", "tcp:0:interface=127.0.0.1",
            "--db", "soak.sqlite3", "--flood", "off", "--max-per-ip", "0", "--history", "5",
            cwd=workdir, stdout=log, stderr=log,
        )  # fmt: skip
    port = None
    for _ in range(200):
        found = re.search(rb"starting on (\d+)", log_path.read_bytes())
        if found:
            port = int(found.group(1))
            break
        await asyncio.sleep(0.05)
    if port is None:
        server.kill()
        sys.exit("the server did not start:\n" + log_path.read_text())
    soak = Soak(port, arguments.clients, arguments.seconds, arguments.seed)
    soak.pid = server.pid
    result = await soak.run()
    server.send_signal(signal.SIGTERM)
    await asyncio.wait_for(server.wait(), 30)
    text = log_path.read_text(errors="replace")
    errors = len(re.findall(r"#error\]|#critical\]|Traceback", text))
    record = {
        "clients": arguments.clients,
        "seconds": arguments.seconds,
        "errors": errors,
        **result,
        "rss_start_kib": soak.rss_start,
        "rss_end_kib": soak.rss_end,
    }
    print(json.dumps(record))
    if errors:
        print(text, file=sys.stderr)
    return 1 if errors or result["lost"] or result["watchers_dropped"] else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--seed", type=int, default=1)
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(asyncio.run(main(parser.parse_args())))
