"""
Registered nicknames: passwords, the twisted.cred checker, and messages kept for the absent.

Passwords are kept only as salted scrypt hashes. Hashing is deliberately slow
(tens of milliseconds), so it runs in a thread, never on the reactor thread;
the database is reached through the same one-thread pool as the history.
Authentication goes through a L{Portal}, so that another checker (LDAP, a
file, ...) can be plugged in beside or instead of the database one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from twisted.cred.checkers import ICredentialsChecker
from twisted.cred.credentials import IUsernamePassword, UsernamePassword
from twisted.cred.error import UnauthorizedLogin
from twisted.cred.portal import IRealm, Portal
from twisted.internet.defer import Deferred
from twisted.internet.interfaces import IReactorTime
from twisted.python.failure import Failure
from zope.interface import Attribute, Interface, implementer

from chat.core.errors import AlreadyRegistered, StoreUnavailable
from chat.core.events import Keeping, KeptPage
from chat.core.limits import PASSWORD_COST
from chat.store.history import Pool

_T = TypeVar("_T")
Runner = Callable[..., Deferred[Any]]
"""
Runs a blocking function elsewhere and returns a Deferred of its result, like
C{twisted.internet.threads.deferToThread}.
"""


def hash_password(password: str, cost: int = PASSWORD_COST) -> str:
    """
    A salted scrypt hash of C{password}, with its parameters, as one string.
    """
    salt = os.urandom(16)
    digest = hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=cost, r=8, p=1, maxmem=cost * 1024 * 2 + 1024**2
    )
    return "$".join(
        [
            "scrypt",
            str(cost),
            "8",
            "1",
            base64.b64encode(salt).decode(),
            base64.b64encode(digest).decode(),
        ]
    )


def verify_password(password: str, stored: str) -> bool:
    """
    Whether C{password} matches C{stored}, compared in constant time.
    """
    try:
        scheme, cost, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        n, blocks, parallel = int(cost), int(r), int(p)
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            password.encode("utf-8"),
            salt=base64.b64decode(salt),
            n=n,
            r=blocks,
            p=parallel,
            maxmem=n * blocks * 128 * 2 + 1024**2,
            dklen=len(expected),
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


@implementer(ICredentialsChecker)
class DatabaseChecker:
    """
    Checks nickname and password against the accounts table.
    """

    credentialInterfaces = (IUsernamePassword,)

    def __init__(self, pool: Pool, run_in_thread: Runner) -> None:
        self.pool = pool
        self.run_in_thread = run_in_thread

    def requestAvatarId(self, credentials: Any) -> Deferred[bytes | tuple[()]]:
        """
        Fire with the nickname as registered (UTF-8), or fail with L{UnauthorizedLogin}.
        """
        nickname: str = credentials.username.decode("utf-8")
        password: str = credentials.password.decode("utf-8")

        def check(found: tuple[str, str] | None) -> Deferred[bytes | tuple[()]]:
            # An unknown nickname is hashed against a dummy all the same, so
            # that it takes as long to refuse as a wrong password.
            registered, stored = found if found is not None else (None, _DUMMY)

            def decide(matched: bool) -> bytes | tuple[()]:
                if not matched or registered is None:
                    raise UnauthorizedLogin("wrong nickname or password")
                return registered.encode("utf-8")

            return self.run_in_thread(verify_password, password, stored).addCallback(decide)

        return looked_up(self.pool, self.pool.sql.account, nickname).addCallback(check)


def looked_up(
    pool: Pool, interaction: Callable[..., _T], *args: Any, writing: bool = False
) -> Deferred[_T]:
    """
    C{interaction} on the accounts. A database that cannot take a change (a
    full disk, a read-only file) or be used at all (see L{chat.store.guard})
    fails it with the core's L{StoreUnavailable}, so that the user is told
    plainly that nothing changed, or to try again, rather than shown an
    internal error.
    """

    def unavailable(failure: Failure) -> Failure:
        if failure.check(pool.sql.Error):
            return Failure(StoreUnavailable(failure.getErrorMessage(), writing=writing))
        return failure

    return pool.runInteraction(interaction, *args).addErrback(unavailable)


_DUMMY = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="


class IChatAccount(Interface):
    """
    What logging in to a registered nickname yields: the nickname, proven.
    """

    nickname = Attribute("The registered nickname, as registered.")


@implementer(IChatAccount)
class Account:
    def __init__(self, nickname: str) -> None:
        self.nickname = nickname


@implementer(IRealm)
class ChatRealm:
    """
    Turns a checked nickname into an L{IChatAccount}.
    """

    def requestAvatar(
        self,
        avatarId: bytes | tuple[()],  # noqa: N803 (IRealm's name)
        mind: object,
        *interfaces: Any,
    ) -> tuple[Any, Any, Callable[[], None]]:
        if IChatAccount not in interfaces or not isinstance(avatarId, bytes):
            raise NotImplementedError("the chat realm only provides IChatAccount, for a nickname")
        return IChatAccount, Account(avatarId.decode("utf-8")), lambda: None


class Accounts:
    """
    Registration, login and kept messages, all answered with Deferreds (the
    core's L{chat.core.interfaces.AccountStore}).
    """

    def __init__(
        self,
        pool: Pool,
        clock: IReactorTime,
        run_in_thread: Runner,
        portal: Portal | None = None,
        cost: int = PASSWORD_COST,
    ) -> None:
        """
        @param portal: where logins are checked; by default one with the
            database checker alone.
        @param cost: scrypt's cost for new hashes (tests use a cheap one).
        """
        self.pool = pool
        self.clock = clock
        self.run_in_thread = run_in_thread
        self.cost = cost
        if portal is None:
            portal = Portal(ChatRealm(), [DatabaseChecker(pool, run_in_thread)])
        self.portal = portal

    def is_registered(self, nickname: str) -> Deferred[bool]:
        def found(registered: tuple[str, str] | None) -> bool:
            return registered is not None

        return looked_up(self.pool, self.pool.sql.account, nickname).addCallback(found)

    def is_operator(self, nickname: str) -> Deferred[bool]:
        """
        Whether C{nickname}'s password was set with C{python -m chat.admin}.
        """
        return looked_up(self.pool, self.pool.sql.is_operator, nickname)

    def authenticate(self, nickname: str, password: str) -> Deferred[str]:
        """
        Fire with the nickname as registered if C{password} is right, or fail
        with L{UnauthorizedLogin}.
        """
        credentials = UsernamePassword(nickname.encode("utf-8"), password.encode("utf-8"))

        def registered(login: tuple[object, Any, object]) -> str:
            return str(IChatAccount(login[1]).nickname)

        d: Deferred[Any] = self.portal.login(credentials, None, IChatAccount)
        return d.addCallback(registered)

    def register(self, nickname: str, password: str) -> Deferred[None]:
        """
        Register C{nickname}, or fail with L{AlreadyRegistered}.
        """

        def hash_unless_taken(taken: bool) -> Deferred[str]:
            # A taken nickname costs a query, not a hash: scrypt is what an
            # attacker looping /register would make the server spend.
            if taken:
                raise AlreadyRegistered(nickname)
            return self.run_in_thread(hash_password, password, self.cost)

        def store(hashed: str) -> Deferred[bool]:
            return self._write(self.pool.sql.create_account, nickname, hashed, self.clock.seconds())

        def created(fresh: bool) -> None:
            if not fresh:
                raise AlreadyRegistered(nickname)

        return (
            self.is_registered(nickname)
            .addCallback(hash_unless_taken)
            .addCallback(store)
            .addCallback(created)
        )

    def change_password(self, nickname: str, old: str, new: str) -> Deferred[None]:
        """
        Replace the password, once C{old} is proven right.
        """

        def proven(_: str) -> Deferred[str]:
            return self.run_in_thread(hash_password, new, self.cost)

        def store(hashed: str) -> Deferred[None]:
            return self._write(self.pool.sql.set_account_hash, nickname, hashed)

        return self.authenticate(nickname, old).addCallback(proven).addCallback(store)

    def unregister(self, nickname: str, password: str) -> Deferred[None]:
        """
        Forget the registration (and messages kept for it), once C{password} is proven right.
        """
        return self.authenticate(nickname, password).addCallback(
            lambda _: self._write(self.pool.sql.delete_account, nickname)
        )

    def _write(self, interaction: Callable[..., _T], *args: Any) -> Deferred[_T]:
        """
        A change to the accounts (see L{looked_up}).
        """
        return looked_up(self.pool, interaction, *args, writing=True)

    def keep(self, sender: str, recipient: str, text: str) -> Deferred[Keeping]:
        """
        Keep a private message for a registered user who is off line, or
        say why not (not registered, too many waiting).
        """
        return self.pool.runInteraction(
            self.pool.sql.queue_private, self.clock.seconds(), sender, recipient, text
        )

    def collect(self, nickname: str, count: int) -> Deferred[KeptPage]:
        """
        The oldest C{count} messages kept for C{nickname}; L{forget} them once shown.
        """
        return self.pool.runInteraction(self.pool.sql.peek_private, nickname, count)

    def forget(self, ids: Sequence[int]) -> Deferred[None]:
        """
        Delete the kept messages C{ids}: they were shown.
        """
        return self.pool.runInteraction(self.pool.sql.forget_private, ids)
