"""
Where an idle user's bytes are: the server's allocations per connection,
line by line of the code that made them, measured with ``tracemalloc``.

    .venv/bin/python bench/idle_bytes.py [--line] [--clients 2000] [--top 25]

starts the real server in this process (the twistd plugin's ``makeService``,
its defaults but for an in-memory database and no limit to the connections
from one address), has a child process open CLIENTS connections over
loopback TCP and log each in (IRC: NICK and USER, in no channel; ``--line``: a
nickname, in the lobby), and prints what the server allocated between before
and after, divided by CLIENTS: the lines that allocated most, and the total.
What the allocator and the kernel add (RSS) is ``bench/run.py``'s idle
scenario's to measure; this says which of our objects the bytes are.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tracemalloc
from dataclasses import replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadgen import login

SETTLE = 1.0


async def hold(port: int, clients: int, irc: bool) -> None:
    """
    The child: log C{clients} in, say "ready", and hold them until stdin closes.
    """
    loop = asyncio.get_running_loop()
    held = []
    for number in range(clients):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        name = f"idle{number}"
        writer.write(login("irc" if irc else "line", name))
        while True:
            line = await reader.readline()
            if not line:
                raise SystemExit(f"closed before login: {name}")
            if line.startswith(b"PING"):
                writer.write(b"PONG" + line[4:])
            if (irc and line.split(b" ", 2)[1:2] == [b"001"]) or (
                not irc and line.startswith(b"*** You are in ")
            ):
                break
        held.append((reader, writer))
        # IRC's PINGs come long after the measurement; nothing is read past login.
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    await loop.run_in_executor(None, sys.stdin.read)


def measure(clients: int, irc: bool, top: int) -> None:
    """
    The server in this process, the clients in a child: the allocations they cost.
    """
    tracemalloc.start(1)
    from twisted.internet import reactor
    from twisted.internet.defer import Deferred, ensureDeferred
    from twisted.internet.protocol import ProcessProtocol

    from chat.irc.protocol import IRCFactory
    from chat.tap import Options, makeService

    options = Options()
    # Both doors listen (the line door always does), on ports of their own
    # choosing; the defaults otherwise (flood control on), but any number of
    # connections from one address, as fast as they come.
    anywhere = "tcp:0:interface=127.0.0.1"
    options.parseOptions(
        [
            "--listen",
            anywhere,
            "--irc",
            anywhere,
            "--db",
            ":memory:",
            "--max-per-ip",
            "0",
            "--max-clients",
            "0",
        ]
    )
    options["limits"] = replace(options["limits"], connections=None)
    options["reactor"] = reactor
    service = makeService(options)
    service.startService()  # type: ignore[attr-defined]
    listener = next(
        each
        for each in service  # type: ignore[attr-defined]
        if hasattr(each, "_waitingForPort") and isinstance(each.factory, IRCFactory) == irc
    )

    class Child(ProcessProtocol):
        def __init__(self) -> None:
            self.ready: Deferred[None] = Deferred()
            self.ended: Deferred[None] = Deferred()

        def outReceived(self, data: bytes) -> None:
            if b"ready" in data and not self.ready.called:
                self.ready.callback(None)

        def errReceived(self, data: bytes) -> None:
            sys.stderr.write(data.decode(errors="replace"))

        def processEnded(self, reason: Any) -> None:
            if not self.ready.called:
                self.ready.errback(reason)
            self.ended.callback(None)

    def settle() -> Deferred[None]:
        waiting: Deferred[None] = Deferred()
        reactor.callLater(SETTLE, waiting.callback, None)  # type: ignore[attr-defined]
        return waiting

    async def run() -> None:
        port = (await listener._waitingForPort).getHost().port
        await settle()
        gc.collect()
        before = tracemalloc.take_snapshot()
        child = Child()
        argv = [sys.executable, __file__, "--hold", str(port), "--clients", str(clients)]
        if not irc:
            argv.append("--line")
        reactor.spawnProcess(child, sys.executable, argv, env=None)  # type: ignore[attr-defined]
        await child.ready
        await settle()
        gc.collect()
        after = tracemalloc.take_snapshot()
        report(before, after, clients, top)
        child.transport.closeStdin()  # type: ignore[union-attr]
        await child.ended

    def stop(result: object) -> object:
        reactor.stop()  # type: ignore[attr-defined]
        return result

    ensureDeferred(run()).addBoth(stop).addErrback(lambda f: f.printTraceback())
    reactor.run()  # type: ignore[attr-defined]


def report(
    before: tracemalloc.Snapshot, after: tracemalloc.Snapshot, clients: int, top: int
) -> None:
    """
    The lines that allocated most per connection, and the total.
    """
    ignore = [tracemalloc.Filter(False, tracemalloc.__file__)]
    differences = after.filter_traces(ignore).compare_to(before.filter_traces(ignore), "lineno")
    total = sum(d.size_diff for d in differences)
    print(f"{total / clients:.0f} bytes per connection in all, {clients} connections")
    print(f"{'bytes':>7} {'blocks':>7}  where")
    for difference in differences[:top]:
        frame = difference.traceback[0]
        name = frame.filename
        for marker in ("/site-packages/", "/chat/", "/lib/python3"):
            if marker in name:
                name = name[name.index(marker) + 1 :]
                break
        print(
            f"{difference.size_diff / clients:7.0f} {difference.count_diff / clients:7.2f}"
            f"  {name}:{frame.lineno}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--line", action="store_true", help="the line door instead of IRC")
    parser.add_argument("--top", type=int, default=25, help="how many lines to show")
    parser.add_argument("--hold", type=int, metavar="PORT", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.hold is not None:
        asyncio.run(hold(arguments.hold, arguments.clients, not arguments.line))
        return 0
    measure(arguments.clients, not arguments.line, arguments.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
