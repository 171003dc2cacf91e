"""
Every seam of the core, in one file: the chat itself, what the chat and the
session need of a door, and what they need of storage.

They are C{typing.Protocol}s: a door's connection, a store or a chat
satisfies one by having the methods, and mypy checks that it does.
"""

from __future__ import annotations

from collections.abc import Sequence, Set
from typing import Protocol

from twisted.internet.defer import Deferred

from chat.core.errors import ChatError
from chat.core.events import (
    QUIT,
    Action,
    Ban,
    BanKind,
    Ctcp,
    Departure,
    Entry,
    Event,
    Keeping,
    KeptPage,
    KeptRoom,
    Lines,
    Message,
    PrivateMessage,
    Redacted,
    RoomBan,
    RoomFilter,
    RoomInfo,
    StatusMessage,
    TagMessage,
    Tags,
    Was,
)
from chat.core.goodbyes import Goodbye
from chat.core.limits import Rate
from chat.core.modes import Mode, ModeChange
from chat.core.pages import Conversation, Page
from chat.core.replies import Reply


class Participant(Protocol):
    """
    The callback side of a logged-in user, implemented by each door's
    connection itself: one call per delivery, with no object in between.
    """

    def receive(self, event: Event) -> None:
        """
        Show C{event} to this participant. Must not raise.
        """

    def disconnect(self, departure: Departure) -> None:
        """
        Throw this user out (a kick, a ban): tell it why, close its
        connection, and tell its rooms it left that way.
        """

    def removed(self, room: str) -> None:
        """
        This user was put out of C{room} by its operator (it has been told):
        a door whose users are always in a room puts it back in one.
        """


class Peer(Participant, Protocol):
    """
    What a L{chat.core.session.Session} needs of its door: a way to
    tell its user things, to hold live events while history is shown, and to
    close.
    """

    @property
    def home(self) -> str | None:
        """
        The room its users are put in at login (the line door's lobby), or
        L{None} for none.
        """

    @property
    def replays(self) -> bool:
        """
        Whether its user is shown a room's last messages on entering it;
        not a client that asks for them itself (IRCv3 C{draft/chathistory}:
        after a reconnection, only what it missed).
        """

    @property
    def bare_login(self) -> bool:
        """
        Whether its nicknames and passwords are bare lines (the line
        protocol's), so that a line pipelined after a refused nickname could
        be a password or a message: such lines are dropped. IRC says which
        is which (NICK, PASS).
        """

    @property
    def address(self) -> str:
        """
        The peer as it is logged ("host:port").
        """

    def interpret(self, item: object) -> None:
        """
        Act on one item of input the door gave L{Session.feed}, now that
        its turn has come (it may have waited while the database answered).
        """

    def tell(self, reply: Reply) -> None:
        """
        Show C{reply} to this user, in the door's own words.
        """

    def answering(self) -> None:
        """
        What the user waited for (the database, a claim) is being answered:
        what is told from now until L{answered} is that answer. A door
        that labels each answer (IRCv3's labeled-response) gathers it.
        """

    def answered(self, more: bool = False) -> None:
        """
        The answer begun by L{answering} is told (gathered, not yet
        written); C{more}: a step it started is still awaited, and its
        answer will continue this one.
        """

    def hold(self) -> None:
        """
        Keep the events that arrive from now on, and the answers told, in
        order, instead of showing them (a goodbye is never kept).
        """

    def release(self, first: Reply | None = None) -> None:
        """
        Show C{first} (the history that was read), then the events and
        answers kept since L{hold}, and show them as they come again.
        """

    def close(self, goodbye: Goodbye) -> None:
        """
        Say C{goodbye}, then close the connection once what was said before it is written.
        """

    def refuse(self, goodbye: Goodbye) -> None:
        """
        Turn away a connection that was never admitted, with C{goodbye} if
        saying it costs little (a TLS connection is dropped before its
        handshake is paid for).
        """

    def abort(self) -> None:
        """
        Drop the connection at once, written or not.
        """


class UserView(Protocol):
    """
    A logged-in user, read-only: what a session and its door may know of a
    user. Only the chat changes it, through the methods of L{Chat}.
    """

    @property
    def nickname(self) -> str: ...

    @property
    def online(self) -> bool:
        """
        Whether it is still logged in (a view outlives a logout).
        """

    @property
    def rooms(self) -> Sequence[RoomView]:
        """
        The rooms it is in, in the order it joined them.
        """

    @property
    def away(self) -> str | None: ...

    @property
    def invisible(self) -> bool: ...

    @property
    def account(self) -> str | None: ...

    @property
    def bot(self) -> bool: ...

    @property
    def operator(self) -> bool: ...

    @property
    def active(self) -> float:
        """
        When it last said something (or logged in).
        """

    @property
    def signon(self) -> float:
        """
        When it logged in.
        """

    @property
    def username(self) -> str | None: ...

    @property
    def realname(self) -> str | None: ...


class RoomView(Protocol):
    """
    A room, read-only (see L{UserView}).
    """

    @property
    def name(self) -> str: ...

    @property
    def topic(self) -> str | None: ...

    @property
    def topic_by(self) -> str | None: ...

    @property
    def topic_at(self) -> float | None: ...

    @property
    def created(self) -> float: ...

    @property
    def flags(self) -> Set[Mode]: ...

    @property
    def key(self) -> str | None: ...

    @property
    def operators(self) -> Set[UserView]: ...

    @property
    def voiced(self) -> Set[UserView]: ...

    @property
    def bans(self) -> Sequence[RoomBan]: ...

    @property
    def exceptions(self) -> Sequence[RoomBan]:
        """
        The masks let in past the bans (C{+e}).
        """

    @property
    def invite_exceptions(self) -> Sequence[RoomBan]:
        """
        The masks let in while the room is invite-only (C{+I}).
        """

    @property
    def members(self) -> Sequence[UserView]: ...

    def __len__(self) -> int: ...

    def __contains__(self, user: object) -> bool: ...

    def modes(self) -> list[ModeChange]:
        """
        The modes set, as changes from none.
        """


class Chat(Protocol):
    """
    The chat: who is online, which rooms exist, and who hears what. The
    in-memory one (L{chat.core.domain.MemoryChat}) serves one process; a
    clustered one stands behind the same calls for several.

    Three kinds of call:
     - queries answer from what this process knows, with values or views;
     - claims, which a cluster must decide (a nickname taken at login or
       rename, a place in a room under C{+l}, C{+i} or C{+k}: first come,
       first served), answer with a L{Deferred}, so that a round trip can
       stand behind them;
     - everything else acts at once and stays synchronous: saying something
       is on the hot path and has no Deferred.
    Text is cleaned of control characters by the chat, the one place every
    door goes through. Nothing here keeps history: whoever makes a message
    records it (the sender's session), so that a cluster writes it once.
    """

    # Queries.

    def __len__(self) -> int:
        """
        How many users are online.
        """

    @property
    def peak(self) -> int:
        """
        The most users online at once since the start.
        """

    def online(self) -> list[str]:
        """
        The nicknames of everyone online, in case-insensitive order.
        """

    def is_online(self, nickname: str) -> bool: ...

    def find(self, nickname: str) -> UserView:
        """
        The user online as C{nickname} (in any case), or raise L{NoSuchUser}.
        """

    def lookup(self, nickname: str) -> UserView | None:
        """
        The user online as C{nickname} (in any case), if any.
        """

    def everyone(self) -> list[UserView]: ...

    def room(self, name: str) -> RoomView:
        """
        The room called C{name} (in any case), or raise L{NoSuchRoom}.
        """

    def members(self, name: str) -> list[str]:
        """
        The nicknames in room C{name}, in case-insensitive order.
        """

    def rooms(
        self, start: int = 0, count: int | None = None, viewer: UserView | None = None
    ) -> list[RoomInfo]:
        """
        A page of the rooms in case-insensitive order (secret ones only to their members).
        """

    def describe_rooms(
        self, names: Sequence[str], viewer: UserView | None = None
    ) -> list[RoomInfo]:
        """
        The rooms of C{names} that exist and that C{viewer} may see.
        """

    def find_rooms(
        self, wanted: RoomFilter, count: int, viewer: UserView | None = None
    ) -> tuple[list[RoomInfo], int]:
        """
        The first C{count} rooms that C{wanted} admits and C{viewer} may
        see, in case-insensitive order, and how many rooms were looked at
        to find them (what the search cost).
        """

    def room_count(self, viewer: UserView | None = None) -> int:
        """
        How many rooms there are, of those C{viewer} may see (secret ones only to their members).
        """

    def rooms_in_use(self) -> int:
        """
        The rooms, less the permanent ones that are empty.
        """

    def whowas(self, nickname: str, count: int | None = None) -> list[Was]: ...

    def watched(self, user: UserView) -> list[tuple[str, UserView | None]]: ...

    def invitations(self, user: UserView) -> list[str]:
        """
        The rooms C{user} is invited to and has not joined yet, in case-insensitive order.
        """

    def check_valid(self, nickname: str) -> None:
        """
        Raise L{InvalidNickname} unless C{nickname} is one, taken or not.
        """

    def check_rename(self, user: UserView, nickname: str) -> None:
        """
        Raise what L{rename} would raise as things stand here; the claim
        itself decides (another process may take the nickname meanwhile).
        """

    # Claims.

    def login(
        self,
        nickname: str,
        participant: Participant,
        account: str | None = None,
        operator: bool = False,
        host: str | None = None,
    ) -> Deferred[UserView]:
        """
        Claim C{nickname} for C{participant} (proven owner of C{account}, an
        operator or not, connected from the address C{host}, which room
        bans match and nobody is shown) and tell it who is online. It is in
        no room until it joins one. Fails with L{InvalidNickname} or
        L{NicknameTaken}.
        """

    def rename(self, user: UserView, nickname: str) -> Deferred[None]:
        """
        Claim C{nickname} for C{user}; it, and everyone sharing a room with
        it, is told. A change of case alone is allowed.
        """

    def join(self, user: UserView, name: str, key: str | None = None) -> Deferred[RoomView]:
        """
        Put C{user} in room C{name}, created if need be (its creator is its
        first operator); it is told the topic and members, the members that
        it came. Fails with L{CannotJoin} and its kin.
        """

    def move(
        self, user: UserView, source: str, destination: str, key: str | None = None
    ) -> Deferred[RoomView]:
        """
        Take C{user} from room C{source} to C{destination}, telling both
        rooms; nothing happens if the destination cannot be joined.
        """

    def keep(self, user: UserView, name: str) -> Deferred[RoomView]:
        """
        Keep room C{name} (see L{chat.core.kept}) for C{user}'s account, as
        one of its operators logged in to one: its founder. Fails with
        L{AlreadyKept}, L{KeepingNeedsAccount}, L{TooManyKept}.
        """

    # Changes.

    def logout(self, user: UserView, departure: Departure = QUIT) -> None:
        """
        Take C{user} off line, its rooms told how, each member once; again does nothing.
        """

    def disconnect(self, user: UserView, departure: Departure) -> None:
        """
        Throw C{user} out of the chat (a kick, a ban, a ghost replaced), whatever its door.
        """

    def close(self) -> None:
        """
        Log everyone out without telling anyone: the server is going, and said so.
        """

    def part(
        self, user: UserView, name: str, destination: str | None = None, reason: str | None = None
    ) -> str:
        """
        Take C{user} out of room C{name}; the room's name as spelt.
        """

    def say(
        self,
        user: UserView,
        name: str,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        lines: Lines = (),
    ) -> Message | None:
        """
        Send C{text} to the other members of room C{name}: the message as
        they got it, or L{None} if it was empty once cleaned. With
        C{lines}, a message of several lines (its text is their join).
        """

    def act(self, user: UserView, name: str, text: str) -> Action | None: ...

    def whisper(
        self, user: UserView, recipient: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> PrivateMessage | None:
        """
        Send C{text} to C{recipient} only, and confirm it to C{user}.
        """

    def tag(self, user: UserView, target: str, tags: Tags, room: bool) -> TagMessage: ...

    def redact(self, user: UserView, name: str, msgid: str, reason: str | None) -> Redacted:
        """
        Tell room C{name}'s members that C{user}, one of them, deleted the
        message C{msgid} there (the session has checked that it may).
        """

    def say_to(
        self,
        user: UserView,
        name: str,
        to: Mode,
        text: str,
        notice: bool = False,
        tags: Tags = (),
        action: bool = False,
    ) -> StatusMessage | None:
        """
        Say C{text} to room C{name}'s operators only (C{to} L{Mode.OPERATOR}),
        or to its voiced members and operators (L{Mode.VOICE}).
        """

    def ctcp(
        self, user: UserView, name: str, text: str, notice: bool = False, tags: Tags = ()
    ) -> Ctcp | None:
        """
        Send a CTCP request (not an action) to room C{name}, unless it is C{+C}.
        """

    def announce(self, user: UserView, text: str) -> None:
        """
        Tell everyone online, in every room.
        """

    def set_topic(self, user: UserView, name: str, topic: str) -> None: ...

    def change_modes(
        self, user: UserView, name: str, changes: Sequence[ModeChange]
    ) -> tuple[list[ModeChange], list[ChatError]]:
        """
        Apply C{changes} to room C{name} as one of its operators: those made
        (which its members are told of), and why the others were not, each
        reason once. A change refused does not stop the others.

        @raise NotRoomOperator: unless C{user} may.
        """

    def kick(self, user: UserView, name: str, nickname: str, reason: str | None) -> UserView:
        """
        Put C{nickname} out of room C{name}, as one of its operators.
        """

    def unkeep(self, user: UserView, name: str) -> str:
        """
        Stop keeping room C{name}, as its founder or an operator of the
        server: the room's name as spelt. Fails with L{RoomNotKept} or
        L{NotFounder}.
        """

    def forget_account(self, account: str) -> None:
        """
        C{account} is no longer registered: it keeps no room any more, and
        counts among no kept room's operators (whoever registers the name
        next is somebody else).
        """

    def restore(self, rooms: Sequence[KeptRoom]) -> None:
        """
        Put back, empty, the rooms kept before a restart (read from a
        L{RoomStore} before anything listens); a permanent room that is not
        among them is kept from now on, as made now.
        """

    def invite(self, user: UserView, name: str, nickname: str) -> UserView:
        """
        Invite C{nickname} (the user online under it now, whatever it is
        called later) into room C{name}, once, for
        L{chat.core.limits.INVITATION_LIFETIME} seconds.
        """

    def set_away(self, user: UserView, text: str | None) -> str | None: ...

    def describe(self, user: UserView, username: str, realname: str) -> None:
        """
        Keep what C{user} says of itself (IRC's USER).
        """

    def rename_real(self, user: UserView, realname: str) -> str | None: ...

    def set_account(self, user: UserView, account: str | None) -> None: ...

    def set_operator(self, user: UserView, operator: bool) -> None: ...

    def set_bot(self, user: UserView, bot: bool) -> None: ...

    def set_invisible(self, user: UserView, invisible: bool) -> None: ...

    def watch(
        self, user: UserView, nicknames: Sequence[str]
    ) -> list[tuple[str, UserView | None]]: ...

    def unwatch(self, user: UserView, nicknames: Sequence[str] | None) -> None: ...


class RoomStore(Protocol):
    """
    Where the chat writes what its kept rooms are made of: it reports each
    change (the whole room, each time), since it alone owns room state.
    Neither call may raise or block: the writing is done elsewhere.
    """

    def save(self, room: KeptRoom) -> None:
        """
        Keep C{room} as it is now (a room kept now, or one that changed).
        """

    def forget(self, name: str) -> None:
        """
        Room C{name} is no longer kept.
        """


class Archive(Protocol):
    """
    Where every message worth keeping (public, action, private) is recorded,
    by the session of the user who made it: once, on whichever process.
    """

    def record(self, event: Message | Action | PrivateMessage) -> None:
        """
        Keep C{event}. Must not raise and must not block.
        """


class HistoryReader(Archive, Protocol):
    """
    An archive that can also read messages back.
    """

    def recent(self, room: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} messages and actions of C{room}, oldest first.
        """

    def search(self, room: str, text: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} messages of C{room} that contain C{text}, oldest first.
        """

    def conversation(self, account: str, nickname: str, count: int) -> Deferred[list[Entry]]:
        """
        The last C{count} private messages between C{account} and
        C{nickname} (as it was called then, or its account), oldest first:
        only those C{account} sent or received while logged in to it (and
        since it was registered), C{outgoing} those it sent.
        """

    def page(self, room: str, page: Page) -> Deferred[list[Entry]]:
        """
        The messages and actions of C{room} that C{page} asks for, oldest first.
        """

    def private_page(self, account: str, peer: str, page: Page) -> Deferred[list[Entry]]:
        """
        The private messages between C{account} and C{peer} (as in
        L{conversation}) that C{page} asks for, oldest first.
        """

    def conversations(
        self, account: str | None, rooms: Sequence[str], after: float, before: float, count: int
    ) -> Deferred[list[Conversation]]:
        """
        The rooms of C{rooms}, and the private conversations of C{account}
        (if any), whose newest message was said after C{after} and before
        C{before}: at most C{count}, the least recent first.
        """

    def find(self, msgid: str) -> Deferred[tuple[Entry, str | None] | None]:
        """
        The kept message whose id is C{msgid}, with the account its sender
        was logged in to (if any); L{None} if none is kept.
        """

    def forget(self, msgid: str) -> Deferred[None]:
        """
        Delete the message whose id is C{msgid}: gone from the history and
        from searches.
        """


class AccountStore(Protocol):
    """
    Registered nicknames, their passwords, and private messages kept for them.
    """

    def is_registered(self, nickname: str) -> Deferred[bool]: ...

    def is_operator(self, nickname: str) -> Deferred[bool]:
        """
        Whether C{nickname}'s password was set by the operator of the server
        (out of band), which an operator's rights require.
        """

    def authenticate(self, nickname: str, password: str) -> Deferred[str]:
        """
        Fire with the nickname as registered, or fail with C{UnauthorizedLogin}.
        """

    def register(self, nickname: str, password: str) -> Deferred[None]:
        """
        Register C{nickname}, or fail with L{chat.core.errors.AlreadyRegistered}.
        """

    def change_password(self, nickname: str, old: str, new: str) -> Deferred[None]: ...

    def unregister(self, nickname: str, password: str) -> Deferred[None]: ...

    def keep(self, sender: str, recipient: str, text: str) -> Deferred[Keeping]:
        """
        Keep a private message for an absent registered user, or say why not.
        """

    def collect(self, nickname: str, count: int) -> Deferred[KeptPage]:
        """
        The oldest C{count} messages kept for C{nickname}, with their ids.
        """

    def forget(self, ids: Sequence[int]) -> Deferred[None]:
        """
        Delete the kept messages C{ids}, once shown (and no others).
        """


class ReadMarkerStore(Protocol):
    """
    How far each account has read each conversation (IRCv3 read-marker),
    kept across its sessions and devices. A target is a room's C{"#"} and
    name or a nickname, folded (L{chat.core.session.marks}).
    """

    def load(self, account: str) -> Deferred[dict[str, float]]:
        """
        C{account}'s markers: by target, the time of the last message read.
        """

    def mark(self, account: str, target: str, at: float, forget: str | None = None) -> None:
        """
        C{account} has read C{target} up to C{at} (a marker never goes
        back); C{forget}: a target it no longer keeps one for. Kept in the
        background, in order with L{load}.
        """

    def forget(self, account: str, target: str) -> None:
        """
        C{account} no longer keeps a marker for C{target} (in the background).
        """


class BanList(Protocol):
    """
    The bans in force, answered from memory (they are checked on every
    connection and login).
    """

    def find(self, kind: BanKind, target: str) -> Ban | None: ...

    def add(
        self, kind: BanKind, target: str, duration: float | None, reason: str | None, by: str
    ) -> Ban: ...

    def remove(self, kind: BanKind, target: str) -> bool: ...

    def all(self) -> list[Ban]: ...


class SharedLimits(Protocol):
    """
    The limits that several servers enforce together (the nodes of a
    cluster), kept where each of them sees what the others took: allowances
    of actions (token buckets, as L{chat.core.limits.TokenBucket}: password
    checks, registrations) and counts of connections per address. Each answer
    is a round trip away; a server's own limits still apply first.
    """

    def take(self, wanted: Sequence[tuple[str, Rate]]) -> Deferred[int | None]:
        """
        Take one token from each bucket C{wanted} names (with its limit),
        all of them or none: fire with L{None} once taken, or with the index
        in C{wanted} of the first one used up. Fails with
        L{chat.core.errors.StoreUnavailable} if it cannot be asked.
        """

    def give_back(self, name: str, limit: Rate) -> None:
        """
        Return to bucket C{name} a token taken for an action that did not
        happen (in the background).
        """

    def connect(self, group: str, limit: int) -> Deferred[object | None]:
        """
        Count one more connection from address group C{group}, unless
        C{limit} are counted already, on every server together: fire with
        what to give L{disconnect} when it closes, or L{None} if the limit
        is reached. Fails with L{chat.core.errors.StoreUnavailable} if it
        cannot be asked.
        """

    def disconnect(self, counted: object) -> None:
        """
        A connection counted by L{connect} (C{counted}: what it fired with)
        has closed (in the background).
        """
