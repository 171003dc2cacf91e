"""
What the kernel holds for a client that never reads, and what dropping it costs.

    .venv/bin/python bench/stuck_sockets.py [--sockets 100]

Opens that many loopback connections whose client side never reads (its
receive buffer set to 4 KiB, as bench/hostile.py's non-readers have), writes
to each server side until the kernel takes no more, then closes the server
sides as Twisted's C{abortConnection} does (C{SO_LINGER} 0: a reset) and
prints one JSON record: what the kernel took per socket, the kernel's TCP
memory then (C{/proc/net/sockstat}), and how long the closes took, which is
time the server's one thread spends in C{close()} freeing the kernel's buffers.
"""

from __future__ import annotations

import argparse
import json
import socket
import struct
import time
from pathlib import Path


def tcp_memory_kib() -> int:
    for line in Path("/proc/net/sockstat").read_text().splitlines():
        if line.startswith("TCP:"):
            fields = line.split()
            return int(fields[fields.index("mem") + 1]) * 4
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sockets", type=int, default=100)
    count = parser.parse_args().sockets
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(count)
    pairs = []
    for _ in range(count):
        client = socket.socket()
        client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        client.connect(listener.getsockname())
        server, _ = listener.accept()
        server.setblocking(False)
        pairs.append((client, server))
    chunk = b"y" * 7600  # a burst of four 1 900-byte lines, as bench/hostile.py's talkers send
    taken = []
    started = time.perf_counter()
    for _, server in pairs:
        total = 0
        while True:
            try:
                total += server.send(chunk)
            except BlockingIOError:
                break
        taken.append(total)
    filled = time.perf_counter() - started
    memory = tcp_memory_kib()
    started = time.perf_counter()
    for _, server in pairs:
        server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        server.close()
    closed = time.perf_counter() - started
    for client, _ in pairs:
        client.close()
    listener.close()
    record = {
        "sockets": count,
        "kernel_took_per_socket_kib": sorted(taken)[len(taken) // 2] // 1024,
        "filling_s": round(filled, 2),
        "kernel_tcp_memory_mib": memory // 1024,
        "closing_ms": round(closed * 1000, 1),
        "closing_ms_per_socket": round(closed * 1000 / count, 2),
    }
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
