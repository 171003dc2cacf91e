"""
IRCv3 labeled-response: the answer to a labelled command, gathered in a
response buffer of its own, then given the client's label.

While a labelled command is handled (and, if it waits for the database or a
claim, while its answer is told), everything its connection is told goes to
the command's L{Answer} instead of the client. When the answer is complete
it is labelled as the specification says: an ACK for nothing, the label on
the one line, or a C{labeled-response} batch of several.
"""

from __future__ import annotations

from collections.abc import Callable

from chat.irc.message import build, escape_tag

_CRLF = b"\r\n"


class Answer:
    """
    One labelled command's answer, as it is gathered.

    @ivar lines: what the connection was told for it (each piece may be
        several IRC lines).
    @ivar outer: where output went when the answer began: L{None} (to the
        client), or the events held behind a history read begun before.
    @ivar holding: a history read began while the answer was gathered:
        once it is told, later events wait for that history.
    @ivar depth: how many of its parts are being told now (an answer that
        waited may start another step, which answers in turn).
    @ivar echoed: the command is a message to one target, whose answer is
        its echo (and, to oneself, the message itself before it).
    """

    __slots__ = ("depth", "echoed", "first", "holding", "label", "lines", "outer")

    def __init__(self, label: str, echoed: bool = False, first: bool = False) -> None:
        self.label = label
        self.echoed = echoed
        # The echo is one batch (a message of several lines): the label
        # goes on its first line, which opens it.
        self.first = first
        self.lines: list[bytes] = []
        self.outer: list[bytes] | None = None
        self.holding = False
        self.depth = 0


def labelled(answer: Answer, server: str, batch_ref: Callable[[], str]) -> bytes:
    """
    C{answer}'s lines with its label: on the one line (on a message's echo,
    its last line), as an ACK when there are none, or as a batch.
    """
    lines = [line for data in answer.lines for line in data.split(_CRLF) if line]
    tag = b"label=" + escape_tag(answer.label).encode()
    if not lines:
        return build("ACK", source=server, tags={"label": answer.label})
    if answer.first:
        return tagged(lines[0], tag) + _CRLF + b"".join(line + _CRLF for line in lines[1:])
    if len(lines) == 1 or answer.echoed:
        # A message's answer is its echo, the last line (a message to
        # oneself arrives first, unlabelled, as it would from anyone); a
        # message to several targets has several echoes: a batch.
        said = b"".join(line + _CRLF for line in lines[:-1])
        return said + tagged(lines[-1], tag) + _CRLF
    ref = batch_ref()
    batch = b"batch=" + ref.encode()
    return (
        tagged(build("BATCH", "+" + ref, "labeled-response", source=server)[:-2], tag)
        + _CRLF
        + b"".join(tagged(line, batch) + _CRLF for line in lines)
        + build("BATCH", "-" + ref, source=server)
    )


def tagged(line: bytes, tag: bytes) -> bytes:
    """
    C{line} (without its CRLF) with one more tag.
    """
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line
