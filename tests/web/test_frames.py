"""
WebSocket frames: what the door writes, and what it reads of a client's
frames however they are cut, within its limit, refusing what breaks RFC 6455.
"""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from chat.net.framing import TOO_LONG
from chat.web import frames as f


def masked(opcode: int, payload: bytes, final: bool = True, mask: bytes | None = None) -> bytes:
    """
    A client's frame: masked, as RFC 6455 has every client's.
    """
    mask = os.urandom(4) if mask is None else mask
    size = len(payload)
    first = (0x80 if final else 0) | opcode
    if size < 126:
        head = bytes((first, 0x80 | size))
    elif size < 1 << 16:
        head = bytes((first, 0x80 | 126)) + size.to_bytes(2, "big")
    else:
        head = bytes((first, 0x80 | 127)) + size.to_bytes(8, "big")
    body = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
    return head + mask + body


def unframe(data: bytes) -> list[tuple[int, bytes]]:
    """
    A server's (unmasked) frames, as a client reads them.
    """
    out = []
    while data:
        opcode, size = data[0] & 0x0F, data[1] & 0x7F
        assert data[0] & 0x80 and not data[1] & 0x80
        at = 2
        if size == 126:
            size, at = int.from_bytes(data[2:4], "big"), 4
        elif size == 127:
            size, at = int.from_bytes(data[2:10], "big"), 10
        out.append((opcode, data[at : at + size]))
        data = data[at + size :]
    return out


class FramerTests(SynchronousTestCase):
    def test_one_frame_a_line(self) -> None:
        """
        Each IRC line becomes one message, without its CRLF, whatever its length.
        """
        long = b"x" * 300
        huge = b"y" * 70000
        framer = f.Framer(f.TEXT)
        made = framer(b":a PRIVMSG #r :hi\r\n" + long + b"\r\n" + huge + b"\r\n")
        self.assertEqual(
            unframe(made), [(f.TEXT, b":a PRIVMSG #r :hi"), (f.TEXT, long), (f.TEXT, huge)]
        )
        self.assertEqual(unframe(f.Framer(f.BINARY)(b"PING :x\r\n")), [(f.BINARY, b"PING :x")])

    def test_a_broadcast_is_framed_once(self) -> None:
        """
        The same bytes object twice (every recipient of a broadcast gets the
        same one) is framed once: the second time is the same frames object.
        """
        framer = f.Framer(f.TEXT)
        line = b":a PRIVMSG #r :hi\r\n"
        first = framer(line)
        self.assertIs(framer(line), first)
        other = b":b PRIVMSG #r :hi\r\n"
        self.assertEqual(unframe(framer(other)), [(f.TEXT, b":b PRIVMSG #r :hi")])

    def test_a_burst_is_framed_piece_by_piece(self) -> None:
        """
        A burst's pieces (several lines each, some) become their frames in
        order; the same pieces for the next recipient are found framed; no
        more than PIECES_KEPT are kept.
        """
        framer = f.Framer(f.TEXT)
        pieces = [b"a\r\n", b"b\r\nc\r\n", b"d\r\n"]
        first = framer.pieces(pieces)
        self.assertEqual(unframe(first), [(f.TEXT, x) for x in (b"a", b"b", b"c", b"d")])
        self.assertEqual(framer.pieces(pieces), first)
        framer.pieces([b"%d\r\n" % n for n in range(f.PIECES_KEPT + 10)])
        self.assertLessEqual(len(framer._pieces), f.PIECES_KEPT)
        # Nor more than about PIECES_BYTES of them, however few: a piece
        # may be a page of history.
        page = (b"x" * 1000 + b"\r\n") * 300
        big = [page + b"%d\r\n" % n for n in range(10)]
        self.assertEqual(len(unframe(framer.pieces(big))), 3010)
        kept = sum(map(len, framer._pieces))
        self.assertLessEqual(kept, f.PIECES_BYTES + len(big[0]))

    def test_close_frame(self) -> None:
        self.assertEqual(unframe(f.close_frame(1002, "bad")), [(f.CLOSE, b"\x03\xeabad")])


class ReaderTests(SynchronousTestCase):
    def setUp(self) -> None:
        self.reader = f.FrameReader(100)

    def test_messages_and_control_frames_in_order(self) -> None:
        data = (
            masked(f.TEXT, b"NICK a")
            + masked(f.PING, b"p")
            + masked(f.BINARY, b"JOIN #r", final=False)
            + masked(f.PONG, b"")
            + masked(f.CONTINUATION, b",#s")
            + masked(f.CLOSE, b"\x03\xe8")
        )
        self.assertEqual(
            self.reader.feed(data),
            [
                (f.TEXT, b"NICK a"),
                (f.PING, b"p"),
                (f.PONG, b""),
                (f.BINARY, b"JOIN #r,#s"),
                (f.CLOSE, b"\x03\xe8"),
            ],
        )
        self.assertTrue(self.reader.empty)

    @given(st.lists(st.binary(max_size=90), max_size=8), st.data())
    def test_however_it_is_cut(self, payloads: list[bytes], data: st.DataObject) -> None:
        """
        Frames cut anywhere, fed piece by piece, read as they were sent.
        """
        reader = f.FrameReader(100)
        stream = b"".join(masked(f.TEXT, p) for p in payloads)
        cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=10)))
        got = []
        for start, end in zip([0, *cuts], [*cuts, len(stream)], strict=True):
            got.extend(reader.feed(stream[start:end]))
        self.assertEqual(got, [(f.TEXT, p) for p in payloads])
        self.assertTrue(reader.empty)

    def test_too_long_is_dropped_and_reported_once(self) -> None:
        """
        A message over the limit, in one frame or in fragments, even one
        that says it is 2**62 bytes long, is reported once and skipped as
        it comes, never buffered; the messages after it are read.
        """
        got = self.reader.feed(masked(f.TEXT, b"a" * 101) + masked(f.TEXT, b"ok"))
        self.assertEqual(got, [(f.TEXT, TOO_LONG), (f.TEXT, b"ok")])
        got = self.reader.feed(
            masked(f.TEXT, b"a" * 60, final=False)
            + masked(f.CONTINUATION, b"b" * 60, final=False)
            + masked(f.PING, b"")
            + masked(f.CONTINUATION, b"c" * 60)
            + masked(f.BINARY, b"next")
        )
        self.assertEqual(got, [(f.TEXT, TOO_LONG), (f.PING, b""), (f.BINARY, b"next")])
        # A frame that says it is huge: its head, then what comes of it.
        head = bytes((0x81, 0x80 | 127)) + (2**62).to_bytes(8, "big") + b"mask"
        self.assertEqual(self.reader.feed(head + b"x" * 1000), [(f.TEXT, TOO_LONG)])
        self.assertEqual(self.reader.feed(b"x" * 100_000), [])
        self.assertLess(len(self.reader._buffer), 200)

    def test_too_long_cut_anywhere(self) -> None:
        """
        A long message skipped while it arrives a byte at a time, and the
        message after it read.
        """
        stream = masked(f.TEXT, b"z" * 300) + masked(f.TEXT, b"after")
        got = []
        for i in range(len(stream)):
            got.extend(self.reader.feed(stream[i : i + 1]))
        self.assertEqual(got, [(f.TEXT, TOO_LONG), (f.TEXT, b"after")])

    def test_protocol_errors(self) -> None:
        """
        What RFC 6455 says a server must fail the connection for.
        """
        bad = {
            "unmasked": bytes((0x81, 2)) + b"hi",
            "reserved bits": bytes((0xC1,)) + masked(f.TEXT, b"x")[1:],
            "unknown opcode": masked(0x3, b"x"),
            "unknown control": masked(0xB, b""),
            "long control": masked(f.PING, b"p" * 126),
            "fragmented control": masked(f.PING, b"p", final=False),
            "continuation of nothing": masked(f.CONTINUATION, b"x"),
            "message inside another": masked(f.TEXT, b"a", final=False) + masked(f.TEXT, b"b"),
        }
        for why, data in bad.items():
            reader = f.FrameReader(100)
            before = masked(f.TEXT, b"fine")
            self.assertEqual(reader.feed(before + data), [(f.TEXT, b"fine")], why)
            assert reader.error is not None, why
            self.assertEqual(reader.error.code, f.PROTOCOL_ERROR, why)
            self.assertEqual(reader.feed(before), [], why)
            self.assertFalse(reader.empty)
