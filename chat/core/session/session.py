"""
One person, whatever door they came in by: the session's life, from
connection to goodbye.

A door parses what its user sends into calls on a L{Session}: a nickname,
a password, a command, a message for a room. The session applies the rules
(login with its password tries, operator rights, bans, flood limits,
timeouts, moderation), calls the chat, and answers through its L{Peer}:
L{chat.core.replies} values to tell, a goodbye to close with. It never
builds text for a wire.

Two kinds of waiting are the session's too:
 - while a step waits on the database, a password check or a claim the
   chat must decide, the input that arrives meanwhile waits, in order, and
   is handled after the answer (within the bound of lines over the flood
   limit, with which it waits);
 - while stored messages are read, live events are held by the peer, so that
   what happened before is shown before what happens now.

The class is cut by concern, each in its own module: L{Intake} (input,
metered and in order), L{Identity} (login, passwords, accounts, renames),
L{Talk} (messages and rooms), L{Queries} and L{Moderation}; this one adds
the life cycle.
"""

from __future__ import annotations

from chat.core.events import Departure, Why
from chat.core.goodbyes import (
    Goodbye,
    IdleTimedOut,
    LoginTimedOut,
    PingTimedOut,
    Quit,
    ShuttingDown,
)
from chat.core.replies import (
    Greeting,
    NicknameWanted,
)
from chat.core.session.identity import Identity
from chat.core.session.intake import Intake
from chat.core.session.moderation import Moderation
from chat.core.session.talk import Talk


class Session(Intake, Identity, Talk, Moderation):
    """
    One person's conversation with the chat, from connection to goodbye.
    """

    __slots__ = ()

    def start(self) -> None:
        """
        The connection is made: admit it (or say why not) and greet it.
        """
        refusal = self.service.admit(self)
        if refusal is not None:
            self._refuse(refusal)
            return
        counting = self.service.count_shared(self)
        if counting is None:
            self._greet()
        else:
            # Counted with the other servers' connections (a round trip),
            # the input waiting meanwhile.
            self._await(counting, self._counted)

    def _counted(self, refusal: Goodbye | None) -> None:
        if self._closing:
            return
        if refusal is None:
            self._greet()
        else:
            self._refuse(refusal)

    def _refuse(self, refusal: Goodbye) -> None:
        """
        Turn the connection away, saying why (logged, unless the server is
        going anyway).
        """
        if not isinstance(refusal, ShuttingDown):
            self.service.refused(self, refusal)
        self._closing = True
        self._let_go()
        self.peer.refuse(refusal)

    def _greet(self) -> None:
        self._admitted = True
        self.log.info("Connection from {peer}", peer=self.address)
        self._set_timer(self.service.login_timeout())
        self.peer.tell(Greeting(self.service.settings.server_name))
        self.peer.tell(NicknameWanted())

    def connection_lost(self, cleanly: bool) -> None:
        """
        The connection has gone (C{cleanly}: closed rather than broken); the
        user, if any, leaves. A database answer may still arrive for this
        session: nothing it would start (a login above all) happens now.
        """
        self._closing = True
        self._let_go()
        self._leave_marks()
        self._turn = None
        if self._reads is not None:
            # History still being read is shown to nobody, nor what was
            # held for it (a read that ends while the connection closes
            # lets go of it as it ends).
            self._reads = None
            self.peer.release()
        self.service.closed(self)
        if self.user is None:
            if self._admitted:
                # A refused one was logged as such (at most once in a while
                # per address: a flood of them is not a flood of lines).
                self.log.info("Connection from {peer} closed", peer=self.address)
            return
        departure = self._departure
        if departure is None:
            departure = Departure(Why.CLOSED if cleanly else Why.LOST)
        self._leave(departure)

    def dropped(self, departure: Departure) -> None:
        """
        The door cut the connection (a client too slow to keep up):
        remember why, for the rooms it leaves.
        """
        self._departure = departure
        self._closing = True
        self.log.warn(
            "Dropping {peer} ({nickname}): {why}",
            peer=self.address,
            nickname=self.user.nickname if self.user else None,
            why=departure.why.value,
        )

    def unanswered(self, seconds: float) -> None:
        """
        The client answered none of the door's checks for C{seconds}
        (a dead connection, or a client that hangs): close it, and its rooms
        see it leave that way.
        """
        if self._closing:
            return
        self._departure = Departure(Why.TIMED_OUT)
        self.log.info(
            "Timed out {peer}: no answer for {seconds}s", peer=self.address, seconds=seconds
        )
        self._close(PingTimedOut(seconds))
        self._leave(self._departure)

    def quit(self, reason: str | None) -> None:
        """
        Leave, with C{reason} for the rooms, once the history being read for
        the user is shown (what it asked for before quitting is answered);
        what it sends meanwhile is not taken.
        """
        self._in_turn(lambda: self._quit(reason))

    def _quit(self, reason: str | None) -> None:
        user, self.user = self.user, None
        if user is not None:
            self.log.info("{nickname} ({peer}) quit", nickname=user.nickname, peer=self.address)
            self.chat.logout(user, Departure(Why.QUIT, text=reason))
        self._close(Quit())

    def _timed_out(self, period: float) -> None:
        self._timer = None
        goodbye: Goodbye = LoginTimedOut(period) if self.user is None else IdleTimedOut(period)
        self.log.info("Timed out {peer}: {why}", peer=self.address, why=goodbye)
        self._close(goodbye)
