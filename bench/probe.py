"""
Where a server's memory is, asked from inside its process.

``hostile.py --probe`` starts the server with this module imported first
(``CHAT_PROBE`` names the file to write to). On SIGUSR1 it appends one JSON
record to that file; on SIGUSR2 three: after the C library is asked to
return its free memory to the system (glibc's ``malloc_trim(0)``, timed),
then after a full garbage collection, then after ``malloc_trim(0)`` again.
Each record holds:

- ``rss_kib``: the resident set, from ``/proc/self/status``;
- ``malloc``: glibc's ``mallinfo2``: the heap's size (``heap_kib``), what of it
  is allocated (``in_use_kib``) and free (``free_kib``), and mmapped blocks;
- ``pymalloc``: Python's own allocator for small objects: arenas (256 KiB to
  1 MiB each) allocated now, and the bytes in allocated blocks;
- ``gc``: the collector's generation counts and how many full collections ran;
- ``transports``: Twisted TCP transports still alive (the server's own, and
  the listening port's) and the bytes buffered in them;
- ``sessions``: chat sessions still alive.

Only the server under test imports it; it does nothing unless ``CHAT_PROBE`` is set.
"""

from __future__ import annotations

import ctypes
import gc
import json
import os
import re
import signal
import sys
import tempfile
import time
from typing import Any

_MALLINFO2 = "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost"


class _Mallinfo2(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in _MALLINFO2.split()]


def _libc() -> Any:
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = _Mallinfo2
    libc.malloc_trim.argtypes = (ctypes.c_size_t,)
    return libc


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def _pymalloc() -> dict[str, int]:
    # sys._debugmallocstats writes to the C stderr: borrow it for a moment.
    with tempfile.TemporaryFile("w+") as out:
        saved = os.dup(2)
        try:
            os.dup2(out.fileno(), 2)
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        out.seek(0)
        text = out.read()
    arenas = re.search(r"# arenas allocated current\s*=\s*([\d,]+)", text)
    blocks = re.search(r"# bytes in allocated blocks\s*=\s*([\d,]+)", text)
    return {
        "arenas": int(arenas.group(1).replace(",", "")) if arenas else -1,
        "in_blocks_kib": int(blocks.group(1).replace(",", "")) // 1024 if blocks else -1,
    }


def _report(libc: Any, what: str, **extra: Any) -> dict[str, Any]:
    info = libc.mallinfo2()
    transports = buffered = sessions = 0
    for thing in gc.get_objects():
        kind = type(thing)
        if kind.__module__ == "twisted.internet.tcp" and hasattr(thing, "_tempDataBuffer"):
            transports += 1
            buffered += len(thing.dataBuffer) + sum(len(b) for b in thing._tempDataBuffer)
        elif kind.__module__ == "chat.core.session.session" and kind.__name__ == "Session":
            sessions += 1
    return {
        "what": what,
        "rss_kib": _rss_kib(),
        "malloc": {
            "heap_kib": info.arena // 1024,
            "in_use_kib": info.uordblks // 1024,
            "free_kib": info.fordblks // 1024,
            "mmapped_kib": info.hblkhd // 1024,
        },
        "pymalloc": _pymalloc(),
        "gc": {"counts": gc.get_count(), "full_collections": gc.get_stats()[2]["collections"]},
        "transports": transports,
        "transports_buffered_kib": buffered // 1024,
        "sessions": sessions,
        **extra,
    }


def install(path: str) -> None:
    libc = _libc()

    def write(*records: dict[str, Any]) -> None:
        with open(path, "a") as out:
            for record in records:
                out.write(json.dumps(record) + "\n")

    def as_is(signum: int, frame: object) -> None:
        write(_report(libc, "as is"))

    def trimmed() -> dict[str, Any]:
        started = time.perf_counter()
        libc.malloc_trim(0)
        took = round((time.perf_counter() - started) * 1000, 1)
        return _report(libc, "after malloc_trim(0)", malloc_trim_ms=took)

    def trimmed_collected_trimmed(signum: int, frame: object) -> None:
        first = trimmed()
        collected = gc.collect()
        second = _report(libc, "after gc.collect()", collected=collected)
        write(first, second, trimmed())

    signal.signal(signal.SIGUSR1, as_is)
    signal.signal(signal.SIGUSR2, trimmed_collected_trimmed)


if os.environ.get("CHAT_PROBE"):
    install(os.environ["CHAT_PROBE"])
