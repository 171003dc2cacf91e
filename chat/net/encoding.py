"""
A door kind's encoder: an event in that kind's bytes, made once per event.

A broadcast hands the same event object to each recipient in turn. The
encoder remembers the last event and its bytes, so the line is formatted and
encoded once and every recipient of that kind is written the very same
C{bytes} object. Both are plain attributes because the connection reads them
itself on every delivery (L{chat.net.connection.Connection.receive}): a
recipient after the first costs an identity test, not a call.
"""

from __future__ import annotations

from chat.core.events import Event


class Encoder:
    """
    Encodes events for one kind of client, remembering the last one.

    A door's encoder implements L{encode}.

    @ivar event: the last event encoded (L{None} before the first).
    @ivar line: its bytes (empty when this kind of client is shown nothing of it).
    """

    __slots__ = ("event", "line")

    def __init__(self) -> None:
        self.event: Event | None = None
        self.line = b""

    def __call__(self, event: Event) -> bytes:
        if event is not self.event:
            self.line = self.encode(event)
            self.event = event
        return self.line

    def encode(self, event: Event) -> bytes:
        """
        C{event} in this kind's bytes, not remembered (empty: not shown).
        """
        raise NotImplementedError
