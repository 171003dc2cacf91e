"""
What keeping history costs the fan-out path: the same load with history off and on.

    .venv/bin/python bench/history_cost.py [--clients 200] [--messages 20000] [--runs 3]

In one process: RECIPIENTS logged-in connections on transports that discard
what they are sent, and one sender whose lines go through the real protocol,
domain and (with history on) the real archive: its database thread on a real
SQLite file in WAL mode. The clock stops once every message is delivered and, with
history, committed. CPU time is the whole process's, the database thread's
included. Prints one JSON line a run and the medians.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from twisted.internet import task
from twisted.internet.testing import StringTransport

from chat.core.domain import MemoryChat
from chat.core.limits import LOBBY
from chat.core.service import ChatService, Settings
from chat.line.protocol import LineFactory
from chat.store.history import History, open_pool


class Discard(StringTransport):
    """
    A transport that counts the lines it is sent and keeps nothing.
    """

    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def write(self, data: bytes) -> None:
        # One write may carry many lines: what one burst of input said to this client.
        self.count += data.count(b"\n")


async def run(reactor: Any, clients: int, messages: int, history_on: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        history = None
        if history_on:
            history = History(open_pool(str(Path(folder) / "bench.sqlite3"), reactor), reactor)
            history.startService()
        chat = MemoryChat(permanent_rooms=(LOBBY,), clock=reactor.seconds)
        service = ChatService(reactor, chat, Settings(history_lines=0), history=history)
        factory = LineFactory(service)
        transports = []
        for n in range(clients):
            transport = Discard()
            protocol = factory.buildProtocol(None)
            protocol.makeConnection(transport)
            protocol.dataReceived(f"user{n}\n".encode())
            transports.append(transport)
        sender = factory.buildProtocol(None)
        sender.makeConnection(Discard())
        sender.dataReceived(b"sender\n")
        before = sum(t.count for t in transports)
        chunk = b"".join(b"hello, this is message number %d\n" % n for n in range(100))
        wall, cpu = time.perf_counter(), time.process_time()
        for _ in range(messages // 100):
            sender.dataReceived(chunk)
        if history is not None:
            await history.stopService()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        deliveries = sum(t.count for t in transports) - before
        return {
            "history": history_on,
            "clients": clients,
            "messages": messages,
            "deliveries": deliveries,
            "seconds": round(wall, 3),
            "messages_per_second": round(messages / wall),
            "deliveries_per_second": round(deliveries / wall),
            "cpu_us_per_delivery": round(cpu / deliveries * 1e6, 3),
        }


async def main(reactor: Any, arguments: argparse.Namespace) -> None:
    results: dict[bool, list[dict[str, Any]]] = {False: [], True: []}
    for _ in range(arguments.runs):
        for history_on in (False, True):
            result = await run(reactor, arguments.clients, arguments.messages, history_on)
            print(json.dumps(result))
            results[history_on].append(result)
    off = statistics.median(r["messages_per_second"] for r in results[False])
    on = statistics.median(r["messages_per_second"] for r in results[True])
    print(
        json.dumps(
            {
                "median_messages_per_second_off": off,
                "median_messages_per_second_on": on,
                "history_cost_percent": round((1 - on / off) * 100, 1),
            }
        )
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=3)
    task.react(main, (parser.parse_args(),))
