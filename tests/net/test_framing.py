"""
Tests for L{chat.net.framing.LineBuffer}: lines out of a byte stream, in any chunking.
"""

from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from chat.line.telnet import TelnetFilter
from chat.net.framing import TOO_LONG, LineBuffer, TooLong


def feed_in_chunks(buffer: LineBuffer, data: bytes, cuts: list[int]) -> list[bytes | TooLong]:
    out: list[bytes | TooLong] = []
    previous = 0
    for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
        out += buffer.feed(data[previous:cut])
        previous = cut
    return out


class LineBufferTests(SynchronousTestCase):
    def test_lf_and_crlf(self) -> None:
        """
        Bare LF (netcat) and CRLF (telnet) both end a line; the CR is not part of it.
        """
        self.assertEqual(LineBuffer(10).feed(b"a\nb\r\nc"), [b"a", b"b"])

    def test_partial_line_waits(self) -> None:
        """
        A line is only delivered when its LF arrives.
        """
        buffer = LineBuffer(10)
        self.assertEqual(buffer.feed(b"hel"), [])
        self.assertEqual(buffer.feed(b"lo\r"), [])
        self.assertEqual(buffer.feed(b"\n"), [b"hello"])

    def test_limit_is_inclusive(self) -> None:
        """
        A line of exactly the maximum length, with or without CR, is delivered.
        """
        self.assertEqual(LineBuffer(3).feed(b"abc\nabc\r\n"), [b"abc", b"abc"])

    def test_over_long_line_in_one_chunk(self) -> None:
        """
        An over-long line becomes one TOO_LONG and the lines around it survive.
        """
        self.assertEqual(LineBuffer(3).feed(b"ok\nabcd\nxyz\n"), [b"ok", TOO_LONG, b"xyz"])

    def test_over_long_line_reported_early_and_once(self) -> None:
        """
        A line with no end in sight is reported as soon as it passes the limit,
        not buffered, and reported only once however long it goes on.
        """
        buffer = LineBuffer(4)
        self.assertEqual(buffer.feed(b"abcdef"), [TOO_LONG])
        self.assertEqual(buffer.feed(b"x" * 100), [])
        self.assertEqual(buffer.feed(b"y" * 100 + b"\nnext\n"), [b"next"])


def reference(data: bytes, limit: int) -> list[bytes | TooLong]:
    """
    What the whole stream means, computed the obvious way on all of it at once.
    """
    out: list[bytes | TooLong] = []
    *lines, tail = data.split(b"\n")
    for line in lines:
        line = line[:-1] if line.endswith(b"\r") else line
        out.append(line if len(line) <= limit else TOO_LONG)
    if len(tail) > limit + 1:
        # Already too long without its end: reported before the end comes.
        out.append(TOO_LONG)
    return out


streams = st.lists(
    st.one_of(
        st.binary(max_size=12),
        st.sampled_from([b"\n", b"\r\n", b"\r", b"x" * 20]),
    ),
    max_size=30,
).map(b"".join)


class LineBufferPropertyTests(SynchronousTestCase):
    @given(streams, st.lists(st.integers(min_value=0, max_value=400)), st.integers(1, 16))
    def test_chunking_does_not_matter(self, data: bytes, cuts: list[int], limit: int) -> None:
        """
        However the stream is cut into chunks, the same lines come out, and they
        are the lines the whole stream holds.
        """
        self.assertEqual(feed_in_chunks(LineBuffer(limit), data, cuts), reference(data, limit))

    @given(streams, st.integers(1, 16))
    def test_memory_is_bounded(self, data: bytes, limit: int) -> None:
        """
        Fed one byte at a time, the buffer never holds more than the limit plus a CR.
        """
        buffer = LineBuffer(limit)
        for i in range(len(data)):
            buffer.feed(data[i : i + 1])
            self.assertLessEqual(len(buffer._partial), limit + 1)


class TelnetFilterTests(SynchronousTestCase):
    def test_plain_input_untouched(self) -> None:
        """
        netcat's input passes through as it is.
        """
        self.assertEqual(TelnetFilter().feed(b"hello\nworld\n"), b"hello\nworld\n")

    def test_negotiation_removed(self) -> None:
        """
        WILL/WONT/DO/DONT, two-byte commands and subnegotiations vanish;
        IAC IAC is one 0xFF byte.
        """
        data = b"\xff\xfb\x1f\xff\xfd\x03al\xff\xf1ice\xff\xfa\x18\x00xterm\xff\xf0\n\xff\xff\n"
        self.assertEqual(TelnetFilter().feed(data), b"alice\n\xff\n")

    def test_subnegotiation_with_escaped_iac(self) -> None:
        """
        IAC IAC inside a subnegotiation does not end it.
        """
        self.assertEqual(TelnetFilter().feed(b"\xff\xfa\x01\xff\xff\xf0x\xff\xf0ok\n"), b"ok\n")

    def test_line_ends(self) -> None:
        """
        CR LF, CR NUL and bare CR all end a line, once each.
        """
        self.assertEqual(TelnetFilter().feed(b"a\r\nb\r\x00c\rd\n"), b"a\nb\nc\nd\n")

    def test_cr_at_chunk_end(self) -> None:
        """
        A CR that ends a chunk ends the line at once; an LF or NUL that follows
        in the next chunk is not another line end.
        """
        telnet = TelnetFilter()
        self.assertEqual(telnet.feed(b"alice\r"), b"alice\n")
        self.assertEqual(telnet.feed(b"\nhello\r"), b"hello\n")
        self.assertEqual(telnet.feed(b"\x00bye\r"), b"bye\n")
        self.assertEqual(telnet.feed(b"again\n"), b"again\n")

    def test_command_split_across_chunks(self) -> None:
        """
        A negotiation cut anywhere by TCP is still removed.
        """
        telnet = TelnetFilter()
        pieces = [b"a\xff", b"\xfb", b"\x18b\xff\xfa", b"junk\xff", b"\xf0c\n"]
        self.assertEqual(b"".join(telnet.feed(piece) for piece in pieces), b"abc\n")

    def test_only_the_byte_after_a_cr_ends_its_line(self) -> None:
        """
        The NUL of a CR NUL ends the line; a NUL after it is the user's, even
        when each comes in a chunk of its own.
        """
        telnet = TelnetFilter()
        pieces = [b"hi\r", b"\x00", b"\x00"]
        self.assertEqual(b"".join(telnet.feed(piece) for piece in pieces), b"hi\n\x00")
        self.assertEqual(TelnetFilter().feed(b"hi\r\x00\x00"), b"hi\n\x00")

    @given(
        st.lists(
            st.one_of(
                st.binary(max_size=6),
                st.sampled_from(
                    [
                        b"\xff",
                        b"\xff\xff",
                        b"\xff\xfb",
                        b"\xff\xfa",
                        b"\xff\xf0",
                        b"\r",
                        b"\r\n",
                        b"\x00",
                    ]
                ),
            ),
            max_size=20,
        ).map(b"".join),
        st.lists(st.integers(min_value=0, max_value=120)),
    )
    def test_chunking_does_not_matter(self, data: bytes, cuts: list[int]) -> None:
        """
        However the stream is cut, the filtered result is the same, and has no CR.
        """
        whole = TelnetFilter().feed(data)
        telnet = TelnetFilter()
        pieces = []
        previous = 0
        for cut in [*sorted({min(c, len(data)) for c in cuts}), len(data)]:
            pieces.append(telnet.feed(data[previous:cut]))
            previous = cut
        self.assertEqual(b"".join(pieces), whole)
        self.assertNotIn(b"\r", whole)
