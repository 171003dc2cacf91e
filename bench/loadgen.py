"""
The load generator's workers: asyncio processes, each holding a share of the
clients, driven by the coordinator in ``bench/run.py`` over a pipe.

Every client logs in with its first line (an IRC client: NICK and USER, then
JOIN #bench once welcomed; a WebSocket client the same, in frames, once its
upgrade is answered) and then only reads. What it reads is counted (``<...>`` lines on the
line protocol, PRIVMSG lines on IRC: messages), and in the latency scenario each
message's send time (``time.monotonic_ns()``, the same clock in every process
on the machine) is subtracted from its arrival time; sequence numbers per
sender find losses, duplicates and reordering.
"""

from __future__ import annotations

import asyncio
import socket
import time
from array import array
from multiprocessing.connection import Connection
from multiprocessing.sharedctypes import Synchronized
from typing import Any

LOGIN_TIMEOUT = 120.0
CHANNEL = b"#bench"


MASK = b"\x5a\xa5\x3c\xc3"
"""
The masking key of the WebSocket clients' frames: a constant, which RFC 6455
allows on the wire (it guards browsers, not servers); the server unmasks it
as it would any key.
"""

UPGRADE = (
    b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    b"Sec-WebSocket-Key: YmVuY2hiZW5jaGJlbmNoIQ==\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Protocol: text.ircv3.net\r\n\r\n"
)


def frame(line: bytes) -> bytes:
    """
    One IRC line as a client's (masked) WebSocket text frame.
    """
    size = len(line)
    # A short frame's length in its second byte; a longer one's in two more.
    long = size >= 126
    head = bytes((0x81, 0xFE if long else 0x80 | size)) + (size.to_bytes(2, "big") if long else b"")
    key = (MASK * (size // 4 + 1))[:size]
    body = (int.from_bytes(line, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")
    return head + MASK + body


def send_line(dialect: str, line: bytes) -> bytes:
    """
    One IRC line (without CRLF) as C{dialect} sends it: with CRLF, or framed.
    """
    return frame(line) if dialect == "ws" else line + b"\r\n"


def login(dialect: str, name: str) -> bytes:
    """
    What a client sends to log in: a nickname (line), IRC's registration (a
    JOIN once welcomed), or a WebSocket's upgrade (its registration once
    answered).
    """
    if dialect == "ws":
        return UPGRADE
    if dialect == "irc":
        # JOIN once welcomed (001): a server may still be registering us.
        return f"NICK {name}\r\nUSER {name} 0 * :{name}\r\n".encode()
    return name.encode() + b"\n"


def say(dialect: str, text: bytes) -> bytes:
    """
    One message to the room, as C{dialect} sends it.
    """
    if dialect == "irc":
        return b"PRIVMSG #bench :" + text + b"\r\n"
    if dialect == "ws":
        return frame(b"PRIVMSG #bench :" + text)
    return text + b"\n"


def parse_message(dialect: str, line: bytes) -> tuple[bytes, bytes] | None:
    """
    (sender, text) of a message line, or None for anything else.
    """
    if dialect in ("irc", "ws"):
        # ":nick!user@host PRIVMSG #bench :text"
        if b" PRIVMSG " not in line:
            return None
        head, _, text = line.partition(b" :")
        return head[1:].split(b"!", 1)[0], text.rstrip(b"\r")
    if line[:1] != b"<":
        return None
    sender, _, text = line.partition(b"> ")
    return sender, text


class Receiver(asyncio.Protocol):
    __slots__ = ("buffer", "frames", "logged_in", "name", "next_seq", "transport", "worker")

    def __init__(self, worker: Worker, name: str = "") -> None:
        self.worker = worker
        self.name = name
        self.buffer = b""
        # A WebSocket client's bytes not yet read as frames (None: not upgraded yet).
        self.frames: bytes | None = None
        # The next sequence number expected from each sender (latency runs).
        self.next_seq: dict[bytes, int] = {}
        self.logged_in: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: Any) -> None:
        self.transport = transport

    def unframe(self, data: bytes) -> bytes:
        """
        A WebSocket client's bytes as IRC lines with CRLF: the upgrade's
        answer first (then it registers), then the server's unmasked frames.
        """
        assert self.transport is not None
        if self.frames is None:
            self.buffer += data
            if b"\r\n\r\n" not in self.buffer:
                return b""
            head, _, data = self.buffer.partition(b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 101 "), head
            self.buffer, self.frames = b"", b""
            name = self.name.encode()
            self.transport.write(frame(b"NICK " + name) + frame(b"USER " + name + b" 0 * :x"))
        buffer = self.frames + data
        lines = []
        at, end = 0, len(buffer)
        while end - at >= 2:
            size, head = buffer[at + 1] & 0x7F, 2
            if size == 126:
                if end - at < 4:
                    break
                size, head = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            if end - at < head + size:
                break
            lines.append(buffer[at + head : at + head + size])
            at += head + size
        self.frames = buffer[at:]
        return b"\r\n".join(lines) + b"\r\n" if lines else b""

    def data_received(self, data: bytes) -> None:
        dialect = self.worker.dialect
        if dialect == "ws":
            data = self.unframe(data)
        lines = (self.buffer + data).split(b"\n")
        self.buffer = lines.pop()
        irc = dialect != "line"
        if irc:
            for line in lines:
                if line[:4] == b"PING":
                    assert self.transport is not None
                    self.transport.write(send_line(dialect, b"PONG" + line[4:].rstrip(b"\r")))
        if not self.logged_in.done():
            for line in lines:
                # In the room: chat's "You are in", or IRC's end of NAMES (366).
                numeric = line.split(b" ", 2)[1] if irc and line[:1] == b":" else b""
                if line.startswith(b"*** You are in ") or numeric == b"366":
                    self.logged_in.set_result(None)
                    break
                if numeric == b"001":
                    if not self.worker.join:
                        # Registered, in no channel (the IRC idle scenario).
                        self.logged_in.set_result(None)
                        break
                    assert self.transport is not None
                    self.transport.write(send_line(dialect, b"JOIN #bench"))
            return
        self.worker.lines(lines, self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.worker.lost += 1
        if not self.logged_in.done():
            self.logged_in.set_exception(ConnectionError("closed before login"))


class Worker:
    """
    One process's clients, and what they have received.
    """

    def __init__(
        self, port: int | list[int], progress: Synchronized[int], dialect: str = "line"
    ) -> None:
        # Several ports: a cluster's nodes, each client on the next.
        self.ports = port if isinstance(port, list) else [port]
        self.made = 0
        self.progress = progress
        self.dialect = dialect
        # Whether IRC clients JOIN #bench once registered.
        self.join = True
        self.clients: list[Receiver] = []
        self.latency = False
        self.count = 0
        self.lost = 0
        self.last = 0.0
        self.latencies = array("q")
        self.late = 0
        self.gaps = 0
        self.per_second: dict[int, int] = {}

    def lines(self, lines: list[bytes], receiver: Receiver) -> None:
        count = 0
        irc = self.dialect != "line"
        if not self.latency:
            if irc:
                for line in lines:
                    if b" PRIVMSG " in line:
                        count += 1
            else:
                for line in lines:
                    if line[:1] == b"<":
                        count += 1
        else:
            now = time.monotonic_ns()
            for line in lines:
                message = parse_message(self.dialect, line)
                if message is None:
                    continue
                count += 1
                # "SEQ SENT_NS"
                sender, text = message
                seq, sent = text.split(b" ", 1)
                self.latencies.append(now - int(sent))
                expected = receiver.next_seq.get(sender, 0)
                number = int(seq)
                if number < expected:
                    self.late += 1
                elif number > expected:
                    self.gaps += number - expected
                receiver.next_seq[sender] = max(expected, number + 1)
        if count:
            self.count += count
            self.progress.value = self.count
            self.last = time.monotonic()
            second = int(self.last)
            self.per_second[second] = self.per_second.get(second, 0) + count

    async def connect(
        self, names: list[str], reading: bool = True, join: bool = True, at_once: int = 200
    ) -> float:
        """
        Connect and log in each name (a few at a time), and return the seconds it took.
        """
        loop = asyncio.get_running_loop()
        started = time.monotonic()
        self.join = join
        semaphore = asyncio.Semaphore(at_once)

        async def one(name: str) -> None:
            async with semaphore:
                port = self.ports[self.made % len(self.ports)]
                self.made += 1
                transport, receiver = await loop.create_connection(
                    lambda: Receiver(self, name), "127.0.0.1", port
                )
                transport.write(login(self.dialect, name))
                await asyncio.wait_for(receiver.logged_in, LOGIN_TIMEOUT)
                if not reading:
                    transport.pause_reading()
                    sock = transport.get_extra_info("socket")
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                self.clients.append(receiver)

        await asyncio.gather(*(one(name) for name in names))
        return time.monotonic() - started

    def reset(self, latency: bool) -> None:
        self.latency = latency
        self.count = 0
        self.progress.value = 0
        self.latencies = array("q")
        for client in self.clients:
            client.next_seq = {}
        self.late = self.gaps = 0
        self.per_second = {}

    def stats(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "last": self.last,
            "lost_connections": self.lost,
            "latencies": self.latencies.tobytes() if self.latency else b"",
            "late": self.late,
            "gaps": self.gaps,
            "per_second": self.per_second,
        }

    def close(self) -> None:
        for client in self.clients:
            if client.transport is not None:
                client.transport.abort()
        self.clients = []


def worker_main(
    port: int | list[int], commands: Connection, progress: Synchronized[int], dialect: str = "line"
) -> None:
    """
    A worker process: obey the coordinator's commands until told to stop.
    """
    asyncio.run(_serve(port, commands, progress, dialect))


async def _serve(
    port: int | list[int], commands: Connection, progress: Synchronized[int], dialect: str
) -> None:
    loop = asyncio.get_running_loop()
    worker = Worker(port, progress, dialect)
    incoming: asyncio.Queue[Any] = asyncio.Queue()
    loop.add_reader(commands.fileno(), lambda: incoming.put_nowait(commands.recv()))
    while True:
        command, argument = await incoming.get()
        try:
            if command == "connect":
                names, reading, join, at_once = argument
                elapsed = await worker.connect(names, reading, join, at_once)
                commands.send(("ok", elapsed))
            elif command == "reset":
                worker.reset(argument)
                commands.send(("ok", None))
            elif command == "stats":
                commands.send(("ok", worker.stats()))
            elif command == "close":
                worker.close()
                commands.send(("ok", None))
            elif command == "stop":
                worker.close()
                commands.send(("ok", None))
                return
        except Exception as e:  # reported to the coordinator, which fails the run
            commands.send(("error", f"{type(e).__name__}: {e}"))
