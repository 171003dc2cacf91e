"""
Instructions per delivery on the hot path, counted by callgrind: repeatable
on a shared, noisy machine, where CPU seconds are not.

    .venv/bin/python bench/instructions.py [--clients 100] [--paced] [--irc | --web]

runs the same workload twice under ``valgrind --tool=callgrind`` (with 1 000
and 3 000 messages), so that everything but the messages (start-up, logins)
cancels out, and prints the instructions each delivery cost. In one process:
CLIENTS logged-in connections of the line door (``--irc``: the IRC door;
``--web``: the IRC door over WebSockets, upgraded through the web door) on
real loopback TCP sockets, so that a delivery takes the path it takes in the
server (the direct write to the socket), and one sender whose lines go
through the real door, session and chat, history off. Batched (the default):
100 lines a chunk, as a sender at full speed writes; ``--paced``: a line a
chunk, each written alone to each recipient, as at a paced rate. Callgrind
counts the process's own instructions, not the kernel's: what the count
measures is what Python adds to each ``send()``.

``--run N`` is the workload itself, N messages, without valgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.internet.protocol import Factory
from twisted.internet.task import Clock
from twisted.internet.tcp import Server

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import UPGRADE, frame, login

# The clients read what they were sent every this many messages, so that no
# socket buffer fills (and no write leaves the direct path).
DRAIN_EVERY = 500


def pair(listener: socket.socket) -> tuple[socket.socket, socket.socket]:
    """
    A connected loopback TCP pair: (the server's end, the client's end).
    """
    client = socket.create_connection(listener.getsockname())
    server, _ = listener.accept()
    server.setblocking(False)
    client.setblocking(False)
    return server, client


class Clients:
    """
    The clients' ends of the connections, reading what they are sent into
    one buffer: what the count includes of them is as little as can be.
    """

    def __init__(self) -> None:
        self.ends: list[socket.socket] = []
        self.buffer = bytearray(1 << 20)
        # Bytes read by all and by the first, and lines read by the first:
        # the messages reached it, and as many bytes reached every other.
        self.total = 0
        self.first = 0
        self.lines = 0

    def drain(self, mark: bytes = b"\n") -> None:
        """
        Read what every client was sent; C{mark} is counted in what the
        first read (once a message).
        """
        buffer = self.buffer
        for n, end in enumerate(self.ends):
            try:
                while size := end.recv_into(buffer):
                    self.total += size
                    if n == 0:
                        self.first += size
                        self.lines += buffer.count(mark, 0, size)
            except BlockingIOError:
                pass


def workload(clients: int, messages: int, paced: bool, door: str) -> None:
    from twisted.internet import reactor

    from chat.core.domain import MemoryChat
    from chat.core.limits import LOBBY
    from chat.core.service import ChatService, Settings
    from chat.irc.protocol import IRCFactory
    from chat.line.protocol import LineFactory
    from chat.web.door import WebDoor

    clock = Clock()
    chat = MemoryChat(permanent_rooms=(LOBBY,), clock=clock.seconds)
    service = ChatService(clock, chat, Settings(history_lines=0))
    factory: Factory
    if door == "web":
        factory = WebDoor(service, IRCFactory(service))
    else:
        factory = IRCFactory(service) if door == "irc" else LineFactory(service)
    listener = socket.create_server(("127.0.0.1", 0))
    ends = Clients()
    join = f"JOIN #{LOBBY}".encode()

    def connect(name: str) -> Server:
        server_end, client_end = pair(listener)
        ends.ends.append(client_end)
        protocol = factory.buildProtocol(None)
        transport = Server(server_end, protocol, client_end.getsockname(), None, 0, reactor)  # type: ignore[arg-type]
        protocol.makeConnection(transport)
        if door == "web":
            protocol.dataReceived(UPGRADE)
            # The 101 waits in Twisted's buffer behind whatever HTTP came
            # before it: written out as the reactor would, and the socket
            # is written to directly from then on.
            transport.doWrite()
            nick, user = login("irc", name).split(b"\r\n")[:2]
            protocol.dataReceived(frame(nick) + frame(user) + frame(join))
        elif door == "irc":
            protocol.dataReceived(login("irc", name) + join + b"\r\n")
        else:
            protocol.dataReceived(login("line", name))
        return transport

    transports = [connect(f"user{n}") for n in range(clients)]
    sender = connect("sender").protocol
    ends.drain()
    ends.total = ends.first = ends.lines = 0
    if door == "line":
        lines = [b"hello, this is message number %d\n" % n for n in range(messages)]
    else:
        lines = [
            b"PRIVMSG #%s :hello, this is message number %d" % (LOBBY.encode(), n)
            for n in range(messages)
        ]
        lines = [frame(line) if door == "web" else line + b"\r\n" for line in lines]
    # Frames have no line ending: a message is counted by its verb.
    mark = b" PRIVMSG " if door == "web" else b"\n"
    per_chunk = 1 if paced else 100
    for start in range(0, messages, per_chunk):
        sender.dataReceived(b"".join(lines[start : start + per_chunk]))
        if (start + per_chunk) % DRAIN_EVERY == 0:
            ends.drain(mark)
    ends.drain(mark)
    # Had a write gone to Twisted's buffer, what was counted would not be the direct path.
    assert not any(t.dataBuffer or t._tempDataBuffer for t in transports), "a socket filled"
    assert ends.lines == messages, f"{ends.lines} lines for {messages} messages"
    assert ends.total == ends.first * clients, "a client missed messages"


def counted(clients: int, messages: int, paced: bool, door: str) -> int:
    """
    The instructions one run of the workload takes, whole process.
    """
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "callgrind.out"
        argv = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}",
            sys.executable, __file__, "--run", str(messages), "--clients", str(clients),
        ]  # fmt: skip
        if paced:
            argv.append("--paced")
        if door != "line":
            argv.append("--" + door)
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run(argv, check=True, capture_output=True, env=env)
        found = re.search(rb"^summary: (\d+)", out.read_bytes(), re.M)
        assert found is not None
        return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--paced", action="store_true", help="a line a chunk, not 100")
    doors = parser.add_mutually_exclusive_group()
    doors.add_argument("--irc", action="store_true", help="the IRC door, not the line door")
    doors.add_argument("--web", action="store_true", help="the IRC door over WebSockets")
    parser.add_argument("--run", type=int, help="run the workload with this many messages")
    arguments = parser.parse_args()
    door = "web" if arguments.web else "irc" if arguments.irc else "line"
    if arguments.run is not None:
        workload(arguments.clients, arguments.run, arguments.paced, door)
        return 0
    low, high = 1000, 3000
    options = (arguments.clients, arguments.paced, door)
    difference = counted(options[0], high, *options[1:]) - counted(options[0], low, *options[1:])
    deliveries = (high - low) * arguments.clients
    print(f"{difference / deliveries:.0f} instructions per delivery")
    return 0


if __name__ == "__main__":
    sys.exit(main())
