"""
Who a session's user is: the nickname it claims, the password that proves a
registered one, the account behind it, operator rights, and renames.

Every way of taking a nickname (login, a rename, NickServ's REGAIN, any
door's) goes through L{Identity._may_take} and the chat's claim, which
answers with a Deferred: input waits until the claim is decided.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from twisted.cred.error import UnauthorizedLogin
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from chat.core.errors import AlreadyRegistered, ChatError
from chat.core.events import BanKind, Departure, KeptPage, Why
from chat.core.goodbyes import LockedOut, OutOfTries
from chat.core.interfaces import AccountStore, RoomView, UserView
from chat.core.limits import KEPT_PAGE, KEPT_PAUSE, PASSWORD_TRIES, SERVICE_NAMES, TokenBucket
from chat.core.model import key_of
from chat.core.replies import (
    Authenticated,
    BadNewPassword,
    Feature,
    KeptMessages,
    LoggedIn,
    LoginFirst,
    NearlyFull,
    NicknameBanned,
    NotProven,
    Operator,
    OperatorAtLogin,
    PasswordChanged,
    PasswordWanted,
    Refused,
    Registered,
    RegisteredNickname,
    Reply,
    Reserved,
    ServiceName,
    TooManyRegistrations,
    TooManyRenames,
    Unavailable,
    Unregistered,
    WrongPassword,
)
from chat.core.rights import requires
from chat.core.session.marks import Marks
from chat.core.text import nickname_problem, password_problem

_T = TypeVar("_T")


class Identity(Marks):
    """
    Logging in, proving and changing who one is.
    """

    __slots__ = ()

    @property
    def password_wanted(self) -> bool:
        """
        Whether the user is asked for the password of the nickname it chose.
        """
        return self._claim is not None

    def choose_nickname(self, nickname: str) -> None:
        """
        Log in as C{nickname}, once it is found free, not banned, and proven
        if it is registered.
        """
        self._claim = None
        try:
            self._may_take(nickname)
            self.chat.check_valid(nickname)
        except Refused as refused:
            self._ask_again(refused.reply)
            return
        except ChatError as invalid:
            self._ask_again(invalid)
            return
        accounts = self.service.accounts
        if accounts is None:
            self._log_in(nickname)
            return
        if (self.account or "").lower() == nickname.lower():
            # Proven already (IRC's SASL or NickServ): a ghost holding it is replaced.
            self._regain(self.account or nickname)
            return

        def registered(yes: bool) -> None:
            if yes:
                # Held by a ghost or not, its password is what is wanted:
                # the right one takes the nickname back (GHOST/REGAIN).
                self._claim = nickname
                self.peer.tell(PasswordWanted(nickname))
            elif nickname.lower() in self.service.admins:
                self._ask_again(Reserved(nickname))
            elif self.service.nearly_full():
                self._ask_again(NearlyFull())
            else:
                self._log_in(nickname)

        self._await(accounts.is_registered(nickname), registered)

    @requires(needs=Feature.ACCOUNTS)
    def regain(self, nickname: str, password: str) -> None:
        """
        Take back C{nickname}, registered, from whoever holds it (a ghost),
        with its password, and become it (NickServ's REGAIN and GHOST).
        Becoming it is a rename like any other: refused, before the password
        is checked, if the nickname is a service's, banned or invalid, or if
        the allowance of renames is used up (a refused REGAIN gives its
        rename back).
        """
        user = self._logged_in()
        self._may_take(nickname)
        self.chat.check_valid(nickname)
        renaming = user.nickname.lower() != nickname.lower()
        meter = self._renames() if renaming else None
        if meter is not None and not meter.take():
            raise Refused(TooManyRenames())

        def right(proof: tuple[str, bool]) -> None:
            registered = proof[0]
            self._set_account(registered)
            self._proven(proof)
            self._take_back(registered)
            if renaming:
                self._rename(user, registered)
            self.peer.tell(Authenticated(registered))

        def refused() -> None:
            if renaming:
                self._give_rename_back()
            self.peer.tell(NotProven())

        try:
            self._prove(nickname, password, right, refused)
        except Refused:
            # Not checked (too many checks): no rename either.
            if renaming:
                self._give_rename_back()
            raise

    def _regain(self, registered: str) -> None:
        """
        Log in as C{registered}, proven, taking it back from whoever holds it.
        """
        self._take_back(registered)
        self._log_in(registered)

    def _take_back(self, registered: str) -> None:
        """
        Whoever else holds C{registered}, proven ours (a ghost: a connection
        not yet noticed as dead, or the owner elsewhere), is thrown out, told
        why; its nickname is free at once.
        """
        holder = self.chat.lookup(registered)
        if holder is not None and holder is not self.user:
            self.log.info(
                "{peer} took {nickname} back from its other connection",
                peer=self.address,
                nickname=registered,
            )
            self.chat.disconnect(holder, Departure(Why.REPLACED))

    def _may_take(self, nickname: str) -> None:
        """
        Refuse a nickname nobody may take, a service's or a banned one: the
        one check every way of taking a nickname (login, a rename, REGAIN,
        any door's) goes through.
        """
        if nickname.lower() in SERVICE_NAMES:
            raise Refused(ServiceName(nickname))
        bans = self.service.bans
        banned = bans.find(BanKind.NICK, nickname) if bans is not None else None
        if banned is not None:
            raise Refused(NicknameBanned(nickname, banned))

    @requires(needs=Feature.ACCOUNTS, first=False)
    def give_password(self, password: str) -> None:
        """
        The password of the registered nickname the user chose (only a
        server with accounts asks for one: L{_prove} checks it has them).
        """
        nickname = self._claim
        if nickname is None:
            # Nothing asked for one.
            raise Refused(LoginFirst())

        def right(proof: tuple[str, bool]) -> None:
            registered = proof[0]
            self._claim = None
            self._set_account(registered)
            self._proven(proof)
            self._regain(registered)

        def refused() -> None:
            self.peer.tell(WrongPassword(PASSWORD_TRIES - self._tries))
            self.peer.tell(PasswordWanted(nickname))

        try:
            self._prove(nickname, password, right, refused)
        except Refused as unchecked:
            # Too many checks: the password is still wanted, once allowed.
            self.peer.tell(unchecked.reply)
            self.peer.tell(PasswordWanted(nickname))

    @requires(needs=Feature.ACCOUNTS)
    def authenticate(self, account: str, password: str) -> None:
        """
        Prove the user owns C{account} before (or without) choosing it as
        its nickname, as IRC's SASL and NickServ do: a later
        L{choose_nickname} of that account asks for no password. Wrong
        passwords count as they do at login.
        """

        def right(proof: tuple[str, bool]) -> None:
            self._set_account(proof[0])
            self._proven(proof)
            self.peer.tell(Authenticated(proof[0]))

        self._prove(account, password, right, self._not_proven)

    @requires(needs=Feature.ACCOUNTS)
    def become_operator(self, account: str, password: str) -> None:
        """
        Become an operator with the password of an admin's account (IRC's OPER).
        """

        def right(proof: tuple[str, bool]) -> None:
            self.peer.tell(Operator() if self._proven(proof) else NotProven())

        self._prove(account, password, right, self._not_proven)

    def _prove(
        self,
        account: str,
        password: str,
        right: Callable[[tuple[str, bool]], object],
        refused: Callable[[], object],
    ) -> None:
        """
        Check C{account}'s password (L{_check_password}), then call C{right}
        with the proof (the account as registered, and whether it holds an
        operator's password: asked only of an admin's), or C{refused}.
        """
        accounts = self._accounts()
        admins = self.service.admins

        def proof() -> Deferred[tuple[str, bool]]:
            def operator(registered: str) -> Deferred[tuple[str, bool]] | tuple[str, bool]:
                if registered.lower() not in admins:
                    return (registered, False)
                return accounts.is_operator(registered).addCallback(lambda yes: (registered, yes))

            return accounts.authenticate(account, password).addCallback(operator)

        self._check_password(account, proof, right, refused)

    def _check_password(
        self,
        account: str,
        check: Callable[[], Deferred[_T]],
        right: Callable[[_T], object],
        refused: Callable[[], object],
        hashes: int = 1,
    ) -> None:
        """
        Run C{check}, which hashes a password of C{account} and fails with
        L{UnauthorizedLogin} if it is wrong (unless the allowance of wrong
        passwords of the account or of this address is used up: the
        connection is then closed), then call C{right} with its result or,
        for a wrong password, C{refused}: the check then stays counted
        against both allowances, and against this connection's
        L{PASSWORD_TRIES}, whatever asked for it (a login, SASL, NickServ,
        OPER, a password change), the last of which closes it.

        Right or wrong, C{check} is charged its C{hashes} (a password change
        whose old password is right hashes twice) to this connection and its
        address (L{_charge_hashes}): it is refused with L{Refused} if either
        is used up.
        """
        if nickname_problem(account) is not None:
            # Not a nickname, so no account: nothing to check, nothing
            # counted. (A database's case-insensitive collation could take
            # "victim" in fullwidth letters for "victim", each look-alike
            # with an allowance of its own.)
            refused()
            return
        service = self.service
        own = self._charge_hashes(hashes)

        def not_made() -> None:
            for _ in range(hashes):
                service.hash_not_made(self.host, own)

        def allowed(locked: LockedOut | None) -> None:
            if locked is not None:
                not_made()
                self._close(locked)
            elif self._closing:
                # Gone while the allowances shared with other servers were asked.
                not_made()
                service.password_right(self.host, account)
            else:
                self._await(service.hashing(self.host, check), proven, wrong)

        def unavailable(failure: Failure) -> None:
            not_made()
            failure.raiseException()

        def proven(result: _T) -> None:
            service.password_right(self.host, account)
            right(result)

        def wrong(failure: Failure) -> None:
            if not failure.check(UnauthorizedLogin):
                # Not a wrong password: the database failed; it costs no try.
                service.password_right(self.host, account)
                failure.raiseException()
            for _ in range(hashes - 1):
                # Only the first hash was made: the password it checked was wrong.
                service.hash_not_made(self.host, own)
            self._tries += 1
            self.log.info(
                "Wrong password for {nickname} from {peer} (try {tries})",
                nickname=account,
                peer=self.address,
                tries=self._tries,
            )
            if self._tries >= PASSWORD_TRIES:
                self._close(OutOfTries())
                return
            refused()

        # At once on a server of its own; a round trip in a cluster.
        self._await(service.try_password(self.host, account), allowed, unavailable)

    def _not_proven(self) -> None:
        self.peer.tell(NotProven())

    def _charge_hashes(self, hashes: int = 1) -> TokenBucket | None:
        """
        Take C{hashes} password hashes, about to be made whatever they will
        prove, from the allowances of this connection and of its address
        (L{chat.core.limits.HASH_ALLOWANCE} and
        L{chat.core.limits.HASH_ALLOWANCE_PER_HOST}), or refuse them with
        L{Refused}. Returns the connection's allowance, for giving back a
        hash that was not made.
        """
        own = self._hashes()
        refusal = self.service.try_hash(self.host, own, hashes)
        if refusal is not None:
            raise Refused(refusal)
        return own

    def _proven(self, proof: tuple[str, bool]) -> bool:
        """
        An account's password was given: an admin's makes an operator, if
        the operator of the server set it (C{python -m chat.admin}).
        """
        registered, set_by_operator = proof
        if registered.lower() not in self.service.admins or self.operator:
            return self.operator
        if not set_by_operator:
            self.log.warn(
                "{nickname} is in --admins, but its password was not set with "
                "python -m chat.admin: not an operator",
                nickname=registered,
            )
            return False
        self.operator = True
        self.service.operators.add(self)
        if self.user is not None:
            self.chat.set_operator(self.user, True)
        self.log.info("Operator {nickname} logged in", nickname=registered)
        if self.user is None:
            # Made at login: said as it comes in (once in, it is the caller's to say).
            self.peer.tell(OperatorAtLogin())
        return True

    def demote(self) -> None:
        """
        No longer an operator (the server's list of them changed).
        """
        self.operator = False
        if self.user is not None:
            self.chat.set_operator(self.user, False)
        self.service.operators.discard(self)

    def _set_account(self, account: str | None) -> None:
        """
        The account this user proved it owns (or none): its messages carry it.
        """
        previous, self.account = self.account, account
        if previous is not None and (account is None or key_of(account) != key_of(previous)):
            # Another account's markers (or none) from now on.
            self._leave_marks()
        if self.user is not None:
            self.chat.set_account(self.user, account)
            # Proven once in: its markers join the session's.
            self._load_marks()

    def _log_in(self, nickname: str) -> None:
        """
        Claim C{nickname}; once it is ours, the user is logged in.
        """
        if self._closing:
            return
        claim = self.chat.login(nickname, self.peer, self.account, self.operator, self.host)
        self._await(claim, self._logged_in_as)

    def _logged_in_as(self, user: UserView) -> None:
        if self._closing:
            # The connection went while the claim was decided: let it go.
            self.chat.logout(user, Departure(Why.LOST))
            return
        self.user = user
        self._named_at = self.service.clock.seconds()
        self.service.logged_in(self)
        settings = self.service.settings
        self._set_timer(settings.idle_timeout)
        self.log.info("{peer} logged in as {nickname}", peer=self.address, nickname=user.nickname)
        self.peer.tell(LoggedIn(settings.motd))
        # The account's read markers first: the first room is shown with them.
        self._load_marks(lambda: self._go_home(user))

    def _go_home(self, user: UserView) -> None:
        if self._closing:
            return
        if self.home is None:
            self._kept()
            return

        def entered(room: RoomView) -> None:
            self._entered(room.name)
            self._kept()

        self._await(self.chat.join(user, self.home), entered)

    def _kept(self) -> None:
        accounts = self.service.accounts
        if self.account is not None and accounts is not None:
            self._deliver_kept(accounts, self.account)

    def _deliver_kept(self, accounts: AccountStore, account: str) -> None:
        """
        Show the messages kept for C{account}, a page at a time (each far
        below the send queue), forgetting each page once it was handed to
        the connection, and only it: a connection that has gone by then
        keeps them for the next login.
        """

        def shown(page: KeptPage) -> Reply | None:
            if not page.entries or self._closing:
                return None
            accounts.forget(page.ids).addErrback(
                lambda failure: self.log.failure("Forgetting kept messages", failure)
            )
            if page.more:
                self.service.clock.callLater(KEPT_PAUSE, self._next_kept, accounts, account)
            return KeptMessages(page.entries)

        self._read(accounts.collect(account, KEPT_PAGE), shown)

    def _next_kept(self, accounts: AccountStore, account: str) -> None:
        if not self._closing:
            self._deliver_kept(accounts, account)

    # Renames.

    def rename(self, nickname: str) -> None:
        """
        Take another nickname, unless it is banned or somebody else
        registered it. Only a rename that may happen counts against the
        allowance of renames.
        """
        user = self._logged_in()
        self._may_take(nickname)
        self.chat.check_rename(user, nickname)
        meter = self._renames()
        if meter is not None and not meter.take():
            raise Refused(TooManyRenames())
        accounts = self.service.accounts
        if accounts is None or (self.account or "").lower() == nickname.lower():
            self._rename(user, nickname)
            return

        def registered(yes: bool) -> None:
            if yes or nickname.lower() in self.service.admins:
                # Refused: the rename does not count against the allowance.
                self._give_rename_back()
                raise Refused(RegisteredNickname(nickname) if yes else Reserved(nickname))
            self._rename(user, nickname)

        self._await(accounts.is_registered(nickname), registered)

    def _rename(self, user: UserView, nickname: str) -> None:
        """
        Claim C{nickname} for C{user}; one refused costs no rename.
        """
        old = user.nickname

        def renamed(_: None) -> None:
            self._named_at = self.service.clock.seconds()
            self.log.info("{old} is now {new}", old=old, new=nickname)

        def refused(failure: Failure) -> None:
            self._give_rename_back()
            failure.raiseException()

        self._await(self.chat.rename(user, nickname), renamed, refused)

    def _give_rename_back(self) -> None:
        meter = self._renames()
        if meter is not None:
            meter.give_back()

    # Accounts.

    @requires(needs=Feature.ACCOUNTS)
    def register(self, password: str) -> None:
        """
        Protect the user's nickname with C{password}.
        """
        user = self._logged_in()
        self._accounts()
        nickname = user.nickname
        self._check_new_password(password)
        service = self.service
        # At once on a server of its own; a round trip in a cluster.
        self._await(
            service.try_registration(self.host),
            lambda allowed: self._register(allowed, nickname, password),
        )

    def _register(self, allowed: bool, nickname: str, password: str) -> None:
        service = self.service
        accounts = self._accounts()
        if not allowed:
            self.log.info("Too many registrations from {peer}", peer=self.address)
            raise Refused(TooManyRegistrations())
        if self._closing:
            service.registration_refused(self.host)
            return
        try:
            own = self._charge_hashes()
        except Refused:
            service.registration_refused(self.host)
            raise

        def done(_: object) -> None:
            self._set_account(nickname)
            self.log.info("{nickname} registered", nickname=nickname)
            self.peer.tell(Registered(nickname))

        def taken(failure: Failure) -> None:
            failure.trap(AlreadyRegistered)
            # Answered from the database, without a hash.
            service.registration_refused(self.host)
            service.hash_not_made(self.host, own)
            self.peer.tell(AlreadyRegistered(nickname))

        step = service.hashing(self.host, lambda: accounts.register(nickname, password))
        self._await(step, done, taken)

    @requires(needs=Feature.ACCOUNTS)
    def change_password(self, old: str, new: str) -> None:
        """
        Replace the password of the user's nickname, once C{old} is proven:
        a wrong one counts as any wrong password does.
        """
        user = self._logged_in()
        accounts = self._accounts()
        self._check_new_password(new)
        nickname = user.nickname

        def done(_: object) -> None:
            self.log.info("{nickname} changed password", nickname=nickname)
            self.peer.tell(PasswordChanged())

        def check() -> Deferred[None]:
            return accounts.change_password(nickname, old, new)

        self._check_password(nickname, check, done, self._not_proven, hashes=2)

    @requires(needs=Feature.ACCOUNTS)
    def unregister(self, password: str) -> None:
        """
        Give up the registration of the user's nickname, with its password:
        a wrong one counts as any wrong password does.
        """
        user = self._logged_in()
        accounts = self._accounts()
        nickname = user.nickname

        def done(_: object) -> None:
            self._set_account(None)
            # Whoever registers the name next is somebody else.
            self.chat.forget_account(nickname)
            self.log.info("{nickname} unregistered", nickname=nickname)
            self.peer.tell(Unregistered(nickname))

        def check() -> Deferred[None]:
            return accounts.unregister(nickname, password)

        self._check_password(nickname, check, done, self._not_proven)

    def _check_new_password(self, password: str) -> None:
        problem = password_problem(password)
        if problem is not None:
            raise Refused(BadNewPassword(problem))

    def _accounts(self) -> AccountStore:
        accounts = self.service.accounts
        if accounts is None:
            raise Refused(Unavailable(Feature.ACCOUNTS))
        return accounts
