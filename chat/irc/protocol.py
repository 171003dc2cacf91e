"""
The IRC door: IRC clients (irssi, WeeChat, HexChat, bots) in the same rooms
as everyone else.

L{IRCFactory} is what C{twistd chat --irc} listens with: each connection it
builds is the IRC dialect (L{chat.irc.connection}) carried by a byte stream
(L{chat.net.stream}). The factory holds what its connections share: the
verbs (L{chat.irc.verbs}), an encoder per kind of client, batch references,
and the rounds of PINGs that find dead connections. The rules are the
session's (L{chat.core.session}), so accounts, bans, flood limits,
send-queue limits and shutdown apply as to line users. See docs/irc.md for
what is supported and how the two dialects meet.
"""

from __future__ import annotations

from collections.abc import Mapping

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory
from twisted.internet.task import LoopingCall

from chat.core.limits import PING_EVERY
from chat.core.service import ChatService
from chat.irc import wording as w
from chat.irc.capabilities import ENCODED, OWN, WATCHING
from chat.irc.connection import IRCConnection, Verb
from chat.irc.verbs import VERBS
from chat.net.stream import StreamProtocol


class IRCFactory(Factory):
    """
    Builds an IRC connection for each client; its encoders are shared by
    all of them, one for each kind of client (with or without tags and echo).
    """

    noisy = False

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self.verbs: Mapping[str, Verb] = VERBS
        self._encoders: dict[tuple[frozenset[str], bool], w.Encoder] = {}
        self._pinging: LoopingCall | None = None
        self._batches = 0

    def batch_ref(self) -> str:
        """
        A reference for a new batch, unique on this server.
        """
        self._batches += 1
        return f"b{self._batches}"

    def encoder(self, caps: frozenset[str] = frozenset(), wallops: bool = True) -> w.Encoder:
        """
        The encoder for clients with C{caps} (and user mode C{w} or not):
        one per combination that changes what an event looks like.
        """
        key = (caps & ENCODED, wallops)
        encoder = self._encoders.get(key)
        if encoder is None:
            extra = key[0] & OWN
            encoder = self._encoders[key] = w.Encoder(
                self.service.settings.server_name,
                self.service.clock.seconds,
                tagged="server-time" in caps,
                echo="echo-message" in caps,
                hosts="userhost-in-names" in caps,
                prefixes="multi-prefix" in caps,
                wallops=wallops,
                tags="message-tags" in caps,
                accounts="account-tag" in caps,
                watching=caps & WATCHING,
                marking="draft/read-marker" in caps,
                redaction="draft/message-redaction" in caps,
                base=self.encoder(caps - extra, wallops) if extra else None,
                multiline="draft/multiline" in caps and "batch" in caps,
                batch_ref=self.batch_ref,
            )
        return encoder

    # Twisted's annotation wants a protocol with a C{factory}: this one keeps
    # none (chat.net.stream says why it is not a Protocol subclass).
    def buildProtocol(self, addr: IAddress | None) -> StreamProtocol:  # type: ignore[override]
        return StreamProtocol(IRCConnection(self.service, self))

    def startFactory(self) -> None:
        self._pinging = LoopingCall(self._ping)
        self._pinging.clock = self.service.clock
        self._pinging.start(PING_EVERY, now=False)

    def stopFactory(self) -> None:
        if self._pinging is not None and self._pinging.running:
            self._pinging.stop()
        self._pinging = None

    def _ping(self) -> None:
        """
        Every L{PING_EVERY} seconds: a PING to each connection that said
        nothing since the last round; one that said nothing since the PING
        before is closed (it answered nothing for two rounds).
        """
        token = self.service.settings.server_name

        def round_() -> None:
            # Its connections are found among the service's sessions: a set
            # of its own would cost every connection an entry (30-60 bytes).
            for session in list(self.service.sessions):
                connection = session.peer
                if isinstance(connection, IRCConnection) and connection.kind is self:
                    connection.check(token, 2 * PING_EVERY)

        # What the round says goes out as one batch, a write per connection.
        self.service.outbox.batch(round_)
