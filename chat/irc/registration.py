"""
IRC registration's state: what CAP, PASS, NICK, USER and SASL PLAIN gather
before the session is given the nickname (L{Session.choose_nickname}); the
verbs that gather it are L{chat.irc.verbs}'.

A connection drops its L{Registration} once its user is logged in: most of a
connection's life needs none of it.
"""

from __future__ import annotations

import re

from chat.core import replies as r
from chat.core.session import Session

_USERNAME = re.compile(r"[A-Za-z0-9._-]+")


def valid_username(name: str) -> bool:
    """
    Whether C{name} may be a user name (USER's first parameter): ASCII
    letters, digits, C{.}, C{-} and C{_}, what both ngIRCd and InspIRCd
    take. It is shown in masks (C{nick!user@host}): a C{!}, C{@} or C{,}
    in it would make another user's mask, or a list of them.
    """
    return _USERNAME.fullmatch(name) is not None


class Registration:
    """
    What a client said of itself before it is registered.

    @ivar negotiating: CAP LS or REQ was sent: registration waits for CAP END.
    """

    __slots__ = ("negotiating", "nickname", "operator", "password", "realname", "sasl", "user")

    def __init__(self) -> None:
        self.negotiating = False
        self.nickname: str | None = None
        self.user: str | None = None
        self.realname = ""
        # PASS: the password of a registered nickname, given before it is asked for.
        self.password: str | None = None
        # A SASL exchange under way (its mechanism).
        self.sasl: str | None = None
        # The password given (SASL, PASS) is an operator's: said once registered.
        self.operator = False

    def told(self, session: Session, me: str, reply: r.Reply) -> bool:
        """
        Act on what the session tells a registering client (as C{me}): the
        password asked for, if PASS gave it; an operator's password, to be
        said once registered; registration done. L{True}: C{reply} is
        answered, or kept, and not to be shown now.
        """
        if isinstance(reply, r.OperatorAtLogin):
            # 381 and MODE +o come after the welcome (001), as IRC clients expect.
            self.operator = True
            return True
        if isinstance(reply, r.PasswordWanted) and self.password is not None:
            # PASS before registration: the password of a registered nickname.
            password, self.password = self.password, None
            session.give_password(password)
            return True
        if isinstance(reply, r.LoggedIn):
            # Registered: who the user says it is, then LUSERS before the MOTD.
            session.describe(self.user or me, self.realname)
            session.counts()
        return False
