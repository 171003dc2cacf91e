"""
Splitting a byte stream into lines, whatever the client's line ending.

netcat sends a bare LF, telnet CR LF; both end a line here. A line longer than
the limit is dropped as soon as it is known to be too long (so a client cannot
make the server buffer without bound), everything up to its LF is discarded,
and the lines after it are delivered as usual.
"""

from __future__ import annotations

LF = b"\n"
CR = b"\r"


class TooLong:
    """
    Stands in the output of L{LineBuffer.feed} where an over-long line was dropped.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return "TOO_LONG"


TOO_LONG = TooLong()


class LineBuffer:
    """
    Accumulates received bytes and hands back complete lines, without their ending.

    Unlike C{LineReceiver.dataReceived}, this splits each chunk once (no
    re-copying of the rest of the buffer per line), and an over-long line does
    not take the lines after it down with it.
    """

    __slots__ = ("_discarding", "_partial", "max_length")

    def __init__(self, max_length: int) -> None:
        self.max_length = max_length
        self._partial = b""
        self._discarding = False

    def feed(self, data: bytes) -> list[bytes | TooLong]:
        """
        Add C{data}; return the lines it completes, in order, with L{TOO_LONG}
        once for each line that was over the limit.
        """
        pieces = (self._partial + data).split(LF)
        self._partial = pieces.pop()
        out: list[bytes | TooLong] = []
        for piece in pieces:
            if self._discarding:
                # The tail of a line already reported as too long.
                self._discarding = False
                continue
            if piece.endswith(CR):
                piece = piece[:-1]
            out.append(piece if len(piece) <= self.max_length else TOO_LONG)
        # One byte of slack for the CR a CRLF line may still end with.
        if len(self._partial) > self.max_length + 1:
            self._partial = b""
            if not self._discarding:
                self._discarding = True
                out.append(TOO_LONG)
        return out

    @property
    def empty(self) -> bool:
        """
        Whether it holds nothing of a line: a buffer made anew would do as
        well (connections keep one only while they need it).
        """
        return not self._partial and not self._discarding

    def finish(self) -> list[bytes]:
        """
        The input has ended: its last line, if it had no line ending.
        """
        partial, self._partial = self._partial, b""
        if self._discarding or not partial:
            return []
        return [partial[:-1] if partial.endswith(CR) else partial]
