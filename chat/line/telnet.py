"""
Telnet's option negotiation, removed from what a telnet client sends.

netcat sends lines as typed; telnet interleaves negotiation with them and ends
lines in several ways. Only the line door meets telnet clients.
"""

from __future__ import annotations

IAC = 0xFF
SB = 0xFA
SE = 0xF0
IP = 0xF4  # Interrupt Process: what telnet sends for Ctrl-C
WILL, DO = 0xFB, 0xFD
TIMING_MARK = 0x06
_OPTION_VERBS = frozenset((0xFB, 0xFC, 0xFD, 0xFE))  # WILL, WONT, DO, DONT

WILL_TIMING_MARK = bytes((IAC, WILL, TIMING_MARK))
"""
The answer to C{IAC DO TIMING-MARK}: telnet sends that right after C{IAC IP}
and discards everything it receives until it is answered (RFC 860).
"""

# TelnetFilter states.
_DATA, _COMMAND, _OPTION, _SUB, _SUB_IAC = range(5)


class TelnetFilter:
    """
    Turns what a telnet client sends into plain lines ending in LF.

    Telnet clients interleave option negotiation (C{IAC WILL x}, C{IAC SB ...
    IAC SE}) with what the user types; those bytes are removed, and C{IAC IAC}
    stands for one 0xFF byte. Line ends: CR LF, CR NUL and a bare CR all
    become LF (some clients send each of them for Enter), so a bare-CR line is
    delivered at once rather than when the next key comes. Everything works
    across chunk boundaries. Plain netcat input passes through untouched.

    Two commands are not just removed: C{IAC IP} (Ctrl-C) sets
    L{interrupted}, and C{IAC DO TIMING-MARK} puts its answer in L{answer},
    for the connection to act on and write.
    """

    __slots__ = ("_after_cr", "_option_verb", "_state", "answer", "interrupted")

    def __init__(self) -> None:
        self._state = _DATA
        self._after_cr = False
        self._option_verb = 0
        self.interrupted = False
        self.answer = b""

    @property
    def resting(self) -> bool:
        """
        Whether it is between commands and lines, with nothing to report: a
        filter made anew would do as well (connections keep one only while
        they need it).
        """
        return (
            self._state == _DATA and not self._after_cr and not self.interrupted and not self.answer
        )

    def feed(self, data: bytes) -> bytes:
        if self._state != _DATA or IAC in data:
            data = self._strip_commands(data)
        if self._after_cr and data:
            # Only the byte right after a CR completes its line end.
            self._after_cr = False
            if data[:1] in (b"\n", b"\x00"):
                data = data[1:]
        if b"\r" in data:
            self._after_cr = data.endswith(b"\r")
            data = data.replace(b"\r\n", b"\n").replace(b"\r\x00", b"\n").replace(b"\r", b"\n")
        elif data:
            self._after_cr = False
        return data

    def _strip_commands(self, data: bytes) -> bytes:
        out = bytearray()
        state = self._state
        index, end = 0, len(data)
        while index < end:
            if state == _DATA:
                found = data.find(IAC, index)
                if found < 0:
                    out += data[index:]
                    break
                out += data[index:found]
                state, index = _COMMAND, found + 1
                continue
            byte = data[index]
            index += 1
            if state == _COMMAND:
                if byte == IAC:
                    out.append(IAC)
                    state = _DATA
                elif byte in _OPTION_VERBS:
                    state = _OPTION
                    self._option_verb = byte
                elif byte == SB:
                    state = _SUB
                else:
                    if byte == IP:
                        self.interrupted = True
                    state = _DATA  # another two-byte command: NOP, AYT, GA, ...
            elif state == _OPTION:
                if self._option_verb == DO and byte == TIMING_MARK:
                    self.answer += WILL_TIMING_MARK
                state = _DATA
            elif state == _SUB:
                if byte == IAC:
                    state = _SUB_IAC
            else:  # _SUB_IAC
                state = _DATA if byte == SE else _SUB
        self._state = state
        return bytes(out)
