"""
The client in a pipe: standard input to the server, the server to standard output.

Exactly the first version's behaviour, so scripts and bots keep working::

    printf 'bob\\nhello\\n' | chat-client localhost:8888

Output is the server's lines, unchanged, without escape codes. End of input
sends C{/quit} and exits 0 once the server has said goodbye; a server that
cannot be reached or goes away is one sentence on standard error and exit 1.
"""

from __future__ import annotations

import sys

from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IHalfCloseableProtocol
from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from zope.interface import implementer

from chat.client.session import Session


def complain(sentence: str) -> None:
    """
    One line on standard error: what went wrong, without a traceback.
    """
    sys.stderr.write(f"chat-client: {sentence}\n")
    sys.stderr.flush()


@implementer(IHalfCloseableProtocol)
class PipeDisplay(LineReceiver):
    """
    Standard input and output, a line at a time. Half-closeable so that
    output goes on after input ends, and the server's goodbye is still printed.
    """

    delimiter = b"\n"
    MAX_LENGTH = 1 << 20

    def __init__(self, session: Session) -> None:
        self.session = session
        self.gone: Deferred[None] = Deferred()

    def connectionMade(self) -> None:
        self.session.attach(self)

    def lineReceived(self, line: bytes) -> None:
        self.session.typed(line.rstrip(b"\r"))

    def lineLengthExceeded(self, line: bytes) -> None:
        complain(f"input line over {self.MAX_LENGTH} bytes ignored.")

    def readConnectionLost(self) -> None:
        self.session.quit()

    def writeConnectionLost(self) -> None:
        """
        Nobody reads our output any more (a closed pipe); keep chatting regardless.
        """

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self.session.quit()
        self.gone.callback(None)

    # Display

    def server_line(self, line: bytes) -> None:
        if self.transport is not None:
            self.transport.write(line + b"\n")

    def failed(self, sentence: str) -> None:
        complain(sentence)

    def note(self, sentence: str) -> None:
        complain(sentence)

    def sent(self, line: bytes) -> None:
        """
        A pipe shows only what the server says.
        """

    def state_changed(self) -> None:
        """
        A pipe has no prompt to update.
        """
