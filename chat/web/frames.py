"""
WebSocket frames (RFC 6455, section 5), read and written by the door itself.

Twisted's own C{twisted.web.websocket} (on wsproto) was the first choice;
docs/web.md says what it lacks for this door. What this module needs of the
protocol is small: a server writes unmasked frames, and reads masked ones.

 - L{Framer} turns the IRC lines a connection is sent into one frame each,
   as the IRCv3 WebSocket specification says (one line a message, no CRLF).
   It remembers the last bytes it framed: a broadcast hands every recipient
   the very same C{bytes} object (L{chat.net.encoding}), so its frames are
   made once for all of them.
 - L{FrameReader} turns what a client sends into whole messages and control
   frames, and never holds more than one message's limit: a message past it
   is dropped as it arrives (and reported once, as L{TOO_LONG}), as a line
   too long is on a byte stream (L{chat.net.framing}).
"""

from __future__ import annotations

from chat.net.framing import TOO_LONG, TooLong

CONTINUATION = 0x0
TEXT = 0x1
BINARY = 0x2
CLOSE = 0x8
PING = 0x9
PONG = 0xA

NORMAL = 1000
"""
Close codes (RFC 6455, 7.4.1): a normal close, and a client that broke the protocol.
"""
PROTOCOL_ERROR = 1002

_FIN = 0x80
_CRLF = b"\r\n"


def frame(opcode: int, payload: bytes) -> bytes:
    """
    One final, unmasked frame (a server's) of C{payload}.
    """
    size = len(payload)
    if size < 126:
        head = bytes((_FIN | opcode, size))
    elif size < 1 << 16:
        head = bytes((_FIN | opcode, 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((_FIN | opcode, 127)) + size.to_bytes(8, "big")
    return head + payload


def close_frame(code: int, reason: str = "") -> bytes:
    """
    A close frame with C{code} and C{reason} (at most 123 bytes of it).
    """
    return frame(CLOSE, code.to_bytes(2, "big") + reason.encode()[:123])


PIECES_KEPT = 512
"""
How many pieces of recent bursts a framer keeps framed: more than a burst
of input tells its recipients (a chunk of 100 lines into a room is 100).
"""

PIECES_BYTES = 1 << 20
"""
How many bytes of pieces (and as many of their frames) a framer keeps at
most: a piece may be a whole page of history.
"""


class Framer:
    """
    IRC lines as WebSocket messages of one kind (text or binary), one frame
    a line, shared by every connection that asked for that kind.
    """

    __slots__ = ("_heads", "_kept", "_pieces", "last", "made", "opcode")

    def __init__(self, opcode: int) -> None:
        self.opcode = opcode
        # Most IRC lines are under 126 bytes: their two-byte headers, made once.
        self._heads = [bytes((_FIN | opcode, size)) for size in range(126)]
        # The last bytes framed, and their frames: plain attributes, which
        # the outflow reads itself (chat.net.encoding's reason).
        self.last = b""
        self.made = b""
        # The pieces of a burst framed lately, each kept with its frames.
        self._pieces: dict[bytes, bytes] = {}
        self._kept = 0

    def pieces(self, pending: list[bytes]) -> bytes:
        """
        The frames of what a burst told one connection, piece by piece.

        A burst's pieces are mostly events, the very same C{bytes} objects
        for every recipient of a kind: each is framed for the first and
        found again for the others (its hash is kept by the object, and
        the lookup compares identities first). The pieces of the last
        bursts are kept, a few hundred and a megabyte at most.
        """
        made = self._pieces
        out = []
        for piece in pending:
            frames = made.get(piece)
            if frames is None:
                if len(made) >= PIECES_KEPT or self._kept > PIECES_BYTES:
                    made.clear()
                    self._kept = 0
                frames = made[piece] = self(piece)
                self._kept += len(piece)
            out.append(frames)
        return b"".join(out)

    def __call__(self, data: bytes) -> bytes:
        """
        C{data}, one or more lines each ending in CRLF, as frames.
        """
        if data is self.last:
            return self.made
        heads = self._heads
        pieces = []
        for line in data.split(_CRLF):
            size = len(line)
            if size < 126:
                if not size:
                    continue
                pieces.append(heads[size])
                pieces.append(line)
            else:
                pieces.append(frame(self.opcode, line))
        made = b"".join(pieces)
        self.last, self.made = data, made
        return made


class ProtocolError(Exception):
    """
    The client broke the WebSocket protocol: the connection is closed with
    L{code}, saying L{reason}.
    """

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


def _unmask(mask: bytes, payload: bytes) -> bytes:
    """
    C{payload} unmasked: XOR with the 4-byte C{mask}, repeated, done on one
    big integer rather than byte by byte (a loop in Python would cost a
    line of IRC some 30 microseconds).
    """
    size = len(payload)
    if not size:
        return payload
    key = (mask * (size // 4 + 1))[:size]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(key, "big")).to_bytes(size, "big")


class FrameReader:
    """
    Reads a client's frames: each whole message's payload, and each control
    frame, in the order they came.

    @ivar limit: the largest message kept, in bytes; a longer one is
        reported as L{TOO_LONG} once and the rest of it discarded as it comes.
    @ivar error: how the client broke the protocol, once it has.
    """

    __slots__ = ("_buffer", "_final", "_kind", "_message", "_over", "_skip", "error", "limit")

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._buffer = b""
        # The message being put together from fragments: its opcode (0: none).
        self._kind = 0
        self._message: list[bytes] = []
        # Bytes of it so far; past the limit, it is being discarded.
        self._over = 0
        # Bytes of a frame of a discarded message still to come, and
        # whether that frame ends its message.
        self._skip = 0
        self._final = False
        self.error: ProtocolError | None = None

    @property
    def empty(self) -> bool:
        """
        Whether it holds nothing: a reader made anew would do as well.
        """
        return not self._buffer and not self._kind and not self._skip and self.error is None

    def feed(self, data: bytes) -> list[tuple[int, bytes | TooLong]]:
        """
        Add C{data}; return what it completes: (opcode, payload) for each
        message (L{TEXT} or L{BINARY}; the payload L{TOO_LONG} for one over
        the limit) and each control frame.

        When the client breaks the protocol, what came before is returned,
        L{error} says how, and nothing more is read.
        """
        if self.error is not None:
            return []
        out: list[tuple[int, bytes | TooLong]] = []
        try:
            self._read(data, out)
        except ProtocolError as e:
            self.error = e
            self._buffer = b""
        return out

    def _read(self, data: bytes, out: list[tuple[int, bytes | TooLong]]) -> None:
        if self._skip:
            # The rest of a frame of a message over the limit.
            taken = min(self._skip, len(data))
            self._skip -= taken
            data = data[taken:]
            if self._skip:
                return
            if self._final:
                self._kind, self._over = 0, 0
        buffer = self._buffer + data if self._buffer else data
        at = 0
        end = len(buffer)
        while end - at >= 2:
            first, second = buffer[at], buffer[at + 1]
            if first & 0x70:
                raise ProtocolError(PROTOCOL_ERROR, "no extension was negotiated")
            if not second & 0x80:
                raise ProtocolError(PROTOCOL_ERROR, "a client's frames are masked")
            opcode = first & 0x0F
            final = first & _FIN
            size = second & 0x7F
            head = 6
            if size == 126:
                head = 8
                if end - at < head:
                    break
                size = int.from_bytes(buffer[at + 2 : at + 4], "big")
            elif size == 127:
                head = 14
                if end - at < head:
                    break
                size = int.from_bytes(buffer[at + 2 : at + 10], "big")
            control = opcode & 0x08
            kind = self._kind
            if control:
                if size > 125 or not final:
                    raise ProtocolError(PROTOCOL_ERROR, "a control frame is whole and short")
                if opcode not in (CLOSE, PING, PONG):
                    raise ProtocolError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
            elif opcode == CONTINUATION:
                if not kind:
                    raise ProtocolError(PROTOCOL_ERROR, "a continuation of nothing")
            elif opcode in (TEXT, BINARY):
                if kind:
                    raise ProtocolError(PROTOCOL_ERROR, "a new message inside another")
                kind = opcode
            else:
                raise ProtocolError(PROTOCOL_ERROR, f"unknown opcode {opcode}")
            if not control and self._over + size > self.limit:
                # Past the limit: nothing of it is kept, however long it
                # says it is; it is skipped as it comes.
                self._kind = kind
                if self._over <= self.limit:
                    out.append((kind, TOO_LONG))
                    self._message = []
                    self._over = self.limit + 1
                here = end - at - head
                if here < size:
                    self._skip, self._final = size - max(here, 0), bool(final)
                    if here < 0:
                        # Not even the mask is here: skip it too.
                        self._skip = size - here
                    self._buffer = b""
                    return
                at += head + size
                if final:
                    self._kind, self._over = 0, 0
                continue
            if end - at < head + size:
                break
            mask = buffer[at + head - 4 : at + head]
            payload = _unmask(mask, buffer[at + head : at + head + size])
            at += head + size
            if control:
                out.append((opcode, payload))
                continue
            self._kind = kind
            if final:
                if self._message:
                    self._message.append(payload)
                    payload = b"".join(self._message)
                    self._message = []
                out.append((self._kind, payload))
                self._kind, self._over = 0, 0
            else:
                self._message.append(payload)
                # Counted as it costs on the wire, head included: empty
                # fragments, a million of them, would otherwise count nothing.
                self._over += head + size
        self._buffer = buffer[at:]
