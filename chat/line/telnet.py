"""
Telnet's option negotiation, removed from what a telnet client sends.

netcat sends lines as typed; telnet interleaves negotiation with them and ends
lines in several ways. Only the line front-end meets telnet clients.
"""

from __future__ import annotations

IAC = 0xFF
SB = 0xFA
SE = 0xF0
_OPTION_VERBS = frozenset((0xFB, 0xFC, 0xFD, 0xFE))  # WILL, WONT, DO, DONT

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
    """

    __slots__ = ("_after_cr", "_state")

    def __init__(self) -> None:
        self._state = _DATA
        self._after_cr = False

    def feed(self, data: bytes) -> bytes:
        if self._state != _DATA or IAC in data:
            data = self._strip_commands(data)
        if self._after_cr and data[:1] in (b"\n", b"\x00"):
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
                elif byte == SB:
                    state = _SUB
                else:
                    state = _DATA  # a two-byte command: NOP, AYT, GA, ...
            elif state == _OPTION:
                state = _DATA
            elif state == _SUB:
                if byte == IAC:
                    state = _SUB_IAC
            else:  # _SUB_IAC
                state = _DATA if byte == SE else _SUB
        self._state = state
        return bytes(out)
