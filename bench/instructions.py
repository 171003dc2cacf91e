"""
Instructions per delivery on the hot path, counted by callgrind: repeatable
on a shared, noisy machine, where CPU seconds are not.

    .venv/bin/python bench/instructions.py [--clients 100] [--paced]

runs the same workload twice under ``valgrind --tool=callgrind`` (with 1 000
and 3 000 messages), so that everything but the messages (start-up, logins)
cancels out, and prints the instructions each delivery cost. In one process:
CLIENTS logged-in line connections on transports that discard what they are
sent, and one sender whose lines go through the real door, session and chat,
history off. Batched (the default): 100 lines a chunk, as a sender at full
speed writes; ``--paced``: a line a chunk, each written alone to each
recipient, as at a paced rate.

``--run N`` is the workload itself, N messages, without valgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport


class Discard(StringTransport):
    """
    A transport that keeps nothing.
    """

    def write(self, data: bytes) -> None:
        pass


def workload(clients: int, messages: int, paced: bool) -> None:
    from chat.core.domain import MemoryChat
    from chat.core.limits import LOBBY
    from chat.core.service import ChatService, Settings
    from chat.line.protocol import LineFactory

    clock = Clock()
    chat = MemoryChat(permanent_rooms=(LOBBY,), clock=clock.seconds)
    service = ChatService(clock, chat, Settings(history_lines=0))
    factory = LineFactory(service)
    for n in range(clients):
        protocol = factory.buildProtocol(None)
        protocol.makeConnection(Discard())
        protocol.dataReceived(f"user{n}\n".encode())
    sender = factory.buildProtocol(None)
    sender.makeConnection(Discard())
    sender.dataReceived(b"sender\n")
    lines = [b"hello, this is message number %d\n" % n for n in range(messages)]
    per_chunk = 1 if paced else 100
    for start in range(0, messages, per_chunk):
        sender.dataReceived(b"".join(lines[start : start + per_chunk]))


def counted(clients: int, messages: int, paced: bool) -> int:
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
        env = dict(os.environ, PYTHONHASHSEED="0")
        subprocess.run(argv, check=True, capture_output=True, env=env)
        found = re.search(rb"^summary: (\d+)", out.read_bytes(), re.M)
        assert found is not None
        return int(found.group(1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--paced", action="store_true", help="a line a chunk, not 100")
    parser.add_argument("--run", type=int, help="run the workload with this many messages")
    arguments = parser.parse_args()
    if arguments.run is not None:
        workload(arguments.clients, arguments.run, arguments.paced)
        return 0
    low, high = 1000, 3000
    difference = counted(arguments.clients, high, arguments.paced) - counted(
        arguments.clients, low, arguments.paced
    )
    deliveries = (high - low) * arguments.clients
    print(f"{difference / deliveries:.0f} instructions per delivery")
    return 0


if __name__ == "__main__":
    sys.exit(main())
