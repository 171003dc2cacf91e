"""
One write per connection per burst.

While the server handles one burst of input, what it says to each connection
is gathered and then written as one piece per connection, so that a sender's
64 KiB of lines costs each recipient one write, not one per line. The session
batches database answers the same way. It holds no bytes: what it flushes is
anything that can L{Flushable.flush} what it gathered (the doors' connections
hand it one burst, which writes every connection told something in one pass).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Flushable(Protocol):
    def flush(self) -> None:
        """
        Write what was gathered while the outbox was held.
        """


class Outbox:
    """
    Gathers the server's output to each connection while input is handled.

    Not a timer: it is held exactly while one connection's input (or one
    database answer) is being handled, and released at the end of that, so
    nothing said waits for anything but the rest of the same burst.
    """

    __slots__ = ("dirty", "held")

    def __init__(self) -> None:
        self.held = False
        self.dirty: list[Flushable] = []

    def batch(self, run: Callable[[], object]) -> None:
        """
        Call C{run} with the outbox held, then flush every connection that
        was written to. Nested calls join the outer batch.
        """
        if self.held:
            run()
            return
        self.held = True
        try:
            run()
        finally:
            self.held = False
            dirty, self.dirty = self.dirty, []
            for connection in dirty:
                connection.flush()
