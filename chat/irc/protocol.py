"""
The IRC front-end: IRC clients (irssi, WeeChat, HexChat, bots) in the same
rooms as everyone else.

It parses IRC messages into session calls and renders events and replies as
IRC lines; the rules are the session's (L{chat.core.session}), so accounts,
bans, flood limits, send-queue limits and shutdown apply as to line users.
Registration (CAP, PASS, NICK, USER, SASL PLAIN) gathers what IRC asks for
before the session is given the nickname; after it, each verb is one session
call. See docs/irc.md for what is supported and how the two dialects meet.
"""

from __future__ import annotations

import base64
import binascii
import fnmatch
from collections.abc import Callable, Sequence

from twisted.internet.interfaces import IAddress
from twisted.internet.protocol import Factory, connectionDone
from twisted.internet.task import LoopingCall
from twisted.python.failure import Failure

from chat.core import replies as r
from chat.core.errors import AlreadyInRoom, ChatError, NoSuchRoom, NoSuchUser
from chat.core.events import Tags
from chat.core.interfaces import UserView
from chat.core.limits import MONITOR_LIMIT, PING_EVERY, ROOMS_PAGE
from chat.core.modes import mode_string
from chat.core.service import ChatService
from chat.core.text import clean
from chat.irc import wording as w
from chat.irc.message import Message as IRCMessage
from chat.irc.message import build, escape_tag, parse
from chat.net.connection import StreamConnection
from chat.net.framing import LineBuffer

MAX_LINE_BYTES = 8191 + 512
"""
IRCv3: up to 8191 bytes of tags, then the 512 of the message itself.
"""

CAPABILITIES = (
    "account-tag",
    "away-notify",
    "batch",
    "cap-notify",
    "echo-message",
    "extended-join",
    "extended-monitor",
    "labeled-response",
    "message-tags",
    "multi-prefix",
    "sasl",
    "server-time",
    "setname",
    "userhost-in-names",
)

WATCHING = frozenset({"away-notify", "extended-join", "setname", "extended-monitor"})
"""
The capabilities that change what a client is shown of others.
"""

ENCODED = WATCHING | {
    "server-time",
    "echo-message",
    "userhost-in-names",
    "multi-prefix",
    "message-tags",
    "account-tag",
}
"""
The capabilities that change how an event is written: one encoder for each
combination in use, shared by every client with it.
"""

Verb = Callable[["IRCProtocol", tuple[str, ...]], None]


class IRCFactory(Factory):
    """
    Builds an L{IRCProtocol} for each connection; its encoders are shared by
    all of them, one for each kind of client (with or without tags and echo).
    """

    noisy = False

    def __init__(self, service: ChatService) -> None:
        self.service = service
        self._encoders: dict[tuple[frozenset[str], bool], w.Encoder] = {}
        # Its connections, for the PING rounds.
        self.connections: set[IRCProtocol] = set()
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
        watching = caps & WATCHING
        key = (caps & ENCODED, wallops)
        encoder = self._encoders.get(key)
        if encoder is None:
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
                watching=watching,
            )
        return encoder

    def buildProtocol(self, addr: IAddress | None) -> IRCProtocol:
        return IRCProtocol(self.service, self)

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
            for connection in list(self.connections):
                connection.check(token, 2 * PING_EVERY)

        # What the round says goes out as one batch, a write per connection.
        self.service.outbox.batch(round_)


class IRCProtocol(StreamConnection):
    """
    One IRC client.
    """

    # Numerics wait with the events while history is read: IRC clients
    # (and labeled-response) rely on answers coming in order.
    ordered = True

    __slots__ = (
        "_caps",
        "_factory",
        "_heard",
        "_label_later",
        "_lines",
        "_negotiating",
        "_nickname",
        "_params",
        "_password",
        "_pinged",
        "_sasl",
        "_umodes",
        "_user",
        "_verb",
    )

    def __init__(self, service: ChatService, factory: IRCFactory) -> None:
        super().__init__(service, factory.encoder())
        self._factory = factory
        self._lines = LineBuffer(MAX_LINE_BYTES)
        # Whether it said anything since the last PING round, and whether
        # a PING of ours is unanswered.
        self._heard = True
        self._pinged = False
        self._caps: frozenset[str] = frozenset()
        self._negotiating = False
        self._nickname: str | None = None
        self._user: str | None = None
        self._realname = ""
        self._password: str | None = None
        self._sasl: str | None = None
        # The command being handled, for replies whose numerics depend on it.
        self._verb = ""
        self._params: tuple[str, ...] = ()
        # The label and verb of a command whose answer waits for the database.
        self._label_later: tuple[str, str] | None = None
        # The client-only tags (+name) of the message being handled.
        self._tags: Tags = ()
        # User modes: w (WALLOPS reach it; on unless turned off), i, B (a bot).
        self._umodes = {"w"}

    # Input.

    def connectionMade(self) -> None:
        self._factory.connections.add(self)
        super().connectionMade()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._factory.connections.discard(self)
        super().connectionLost(reason)

    def dataReceived(self, data: bytes) -> None:
        self._heard = True
        self._outbox.batch(lambda: self.session.feed(self._lines.feed(data)))

    def check(self, token: str, seconds: float) -> None:
        """
        A PING round: PING a client that said nothing since the last one;
        close one that did not answer the last PING either.
        """
        if self._heard:
            self._heard = self._pinged = False
        elif self._pinged:
            self.session.unanswered(seconds)
        else:
            self._pinged = True
            self._reply(build("PING", token, source=self._server))

    def interpret(self, item: object) -> None:
        if not isinstance(item, bytes):
            self.tell(r.LineTooLong(MAX_LINE_BYTES))
            return
        try:
            text = item.decode("utf-8")
        except UnicodeDecodeError:
            # UTF8ONLY: nothing that is not UTF-8 is relayed, or kept.
            raw = item.split(b" ", 2)[1 if item.startswith((b"@", b":")) else 0]
            self._reply(
                build(
                    "FAIL",
                    raw.decode("ascii", "replace").upper() or "*",
                    "INVALID_UTF8",
                    "Message rejected: it is not UTF-8",
                    source=self._server,
                )
            )
            return
        message = parse(text)
        if message is None:
            return
        tagged = item.startswith(b"@")
        untagged = item.split(b" ", 1)[-1].lstrip(b" ") if tagged else item
        if (
            len(untagged) + 2 > w.LINE_BYTES
            or (tagged and len(item) - len(untagged) - 2 > w.CLIENT_TAG_BYTES)
            or (message.verb in ("PRIVMSG", "NOTICE") and self._relayed(untagged) > w.LINE_BYTES)
        ):
            # Over 512 bytes (or over 4094 bytes of tags), or too long to
            # reach others in one line with the sender's mask in front:
            # refused, as IRC servers do.
            self._verb = message.verb
            self.tell(r.LineTooLong(w.LINE_BYTES))
            return
        self._verb, self._params = message.verb, message.params
        self._tags = (
            tuple((k, v) for k, v in message.tags.items() if k.startswith("+"))
            if message.tags and "message-tags" in self._caps
            else ()
        )
        label = message.tags.get("label") if "labeled-response" in self._caps else None
        if label:
            self._outbox.batch(lambda: self._labelled(label, message))
        else:
            self._dispatch(message)

    def _dispatch(self, message: IRCMessage) -> None:
        verb = _VERBS.get(message.verb)
        registered = self.session.user is not None
        if verb is None:
            if registered:
                self._numeric("421", message.verb, "Unknown command")
            else:
                self._numeric("451", "You have not registered")
            return
        run, least, early = verb
        if not registered and not early:
            self._numeric("451", "You have not registered")
            return
        if len(message.params) < least:
            self._numeric("461", message.verb, "Not enough parameters")
            return
        try:
            run(self, message.params)
        except ChatError as e:
            # No automatic reply to a NOTICE, not even an error (RFC 2812 3.3.2).
            if not isinstance(e, AlreadyInRoom) and message.verb != "NOTICE":
                self._refused(e)

    def _labelled(self, label: str, message: IRCMessage) -> None:
        """
        IRCv3 labeled-response: handle C{message}, then give what it made
        this connection say the client's label: an ACK for nothing, the
        label on one line, or a C{labeled-response} batch of several. An
        answer that waits for the database is labelled when it comes.
        """
        buffer = self._gathered()
        start = len(buffer)
        try:
            self._dispatch(message)
        except Exception as e:
            self.session.report(e)
        held = self._held
        if held is not None and held is not buffer:
            # A history read began (a JOIN): what the command said after it
            # is still its answer, and goes with the rest, before the history.
            buffer.extend(held)
            held.clear()
        if self.session.waiting:
            self._label_later = (label, message.verb)
            return
        self._label(label, message.verb, buffer, start)

    def _gathered(self) -> list[bytes]:
        """
        Where what this connection is told gathers now: the events and
        answers held while history is read, or the output of this burst.
        """
        return self._held if self._held is not None else self._pending

    def answered(self) -> None:
        if self._label_later is not None:
            (label, verb), self._label_later = self._label_later, None
            self._label(label, verb, self._gathered(), 0)

    def _label(self, label: str, verb: str, buffer: list[bytes], start: int) -> None:
        """
        Label what was gathered in C{buffer} from C{start} (the answer to
        C{verb}), where it is: a history read that began meanwhile holds
        what comes after it, not this.
        """
        lines = [line for data in buffer[start:] for line in data.split(b"\r\n") if line]
        tag = b"label=" + escape_tag(label).encode()
        if not lines:
            ack = build("ACK", source=self._server, tags={"label": label})
            if buffer is self._pending:
                self._send(ack)  # the outbox learns this connection has output
            else:
                buffer.append(ack)
            return
        if len(lines) == 1 or verb in ("PRIVMSG", "NOTICE", "TAGMSG"):
            # A message's answer is its echo, the last line (a message to
            # oneself arrives first, unlabelled, as it would from anyone).
            said = b"".join(line + b"\r\n" for line in lines[:-1]) + _tagged(lines[-1], tag)
            buffer[start:] = [said + b"\r\n"]
            return
        ref = self._factory.batch_ref()
        batch = b"batch=" + ref.encode()
        buffer[start:] = [
            _tagged(build("BATCH", "+" + ref, "labeled-response", source=self._server)[:-2], tag)
            + b"\r\n"
            + b"".join(_tagged(line, batch) + b"\r\n" for line in lines)
            + build("BATCH", "-" + ref, source=self._server)
        ]

    def _refused(self, error: ChatError) -> None:
        """
        Say the numeric for a domain error in answer to the command being handled.
        """
        self._reply(w.error_numeric(self._server, self._me, error, self._verb))

    def _reply(self, data: bytes) -> None:
        """
        Say C{data}, an answer: while history is read, after the events
        held meanwhile (an IRC client expects everything in order).
        """
        held = self._held
        if held is not None:
            held.append(data)
        else:
            self._send(data)

    def _relayed(self, untagged: bytes) -> int:
        """
        The length of the line others get for C{untagged} (a PRIVMSG or a
        NOTICE as sent): the sender's mask in front, a C{:} before the text
        if it had none, CRLF.
        """
        colon = 0 if b" :" in untagged else 1
        return len(untagged) + len(w.mask(self._me)) + 4 + colon

    @property
    def _server(self) -> str:
        return self.service.settings.server_name

    @property
    def _me(self) -> str:
        user = self.session.user
        if user is not None:
            return user.nickname
        return self._nickname or "*"

    def _numeric(self, code: str, *params: str) -> None:
        self._reply(w.numeric(self._server, code, self._me, *params))

    # Registration.

    def cap(self, params: tuple[str, ...]) -> None:
        sub = params[0].upper()
        if sub == "LS":
            if self.session.user is None:
                self._negotiating = True
            self._reply(build("CAP", self._me, "LS", " ".join(CAPABILITIES), source=self._server))
        elif sub == "LIST":
            self._reply(
                build("CAP", self._me, "LIST", " ".join(sorted(self._caps)), source=self._server)
            )
        elif sub == "REQ":
            wanted = params[1].split() if len(params) > 1 else []
            caps = set(self._caps)
            for cap in wanted:
                name = cap.removeprefix("-")
                if name not in CAPABILITIES:
                    self._reply(
                        build("CAP", self._me, "NAK", " ".join(wanted), source=self._server)
                    )
                    return
                if cap.startswith("-"):
                    caps.discard(name)
                else:
                    caps.add(name)
            if self.session.user is None:
                self._negotiating = True
            self._caps = frozenset(caps)
            self._encode = self._factory.encoder(self._caps, "w" in self._umodes)
            self._reply(build("CAP", self._me, "ACK", " ".join(wanted), source=self._server))
        elif sub == "END":
            self._negotiating = False
            self._register()
        else:
            self._numeric("410", sub, "Invalid CAP command")

    def pass_(self, params: tuple[str, ...]) -> None:
        if self.session.user is not None:
            self._numeric("462", "You may not reregister")
            return
        self._password = params[0]

    def nick(self, params: tuple[str, ...]) -> None:
        if not params or not params[0]:
            self._numeric("431", "No nickname given")
            return
        if self.session.user is not None:
            if params[0] != self._me:  # the same nickname again: nothing to do
                self.session.rename(params[0])
            return
        self._nickname = params[0]
        self._register()

    def user(self, params: tuple[str, ...]) -> None:
        if self.session.user is not None or self._user is not None:
            self._numeric("462", "You may not reregister")
            return
        if not params[0] or not params[3]:
            self._numeric("461", "USER", "Not enough parameters")
            return
        self._user, self._realname = params[0], params[3]
        self._register()

    def authenticate(self, params: tuple[str, ...]) -> None:
        """
        SASL PLAIN: C{AUTHENTICATE PLAIN}, C{+}, then the credentials in base64.
        """
        if self.session.user is not None:
            self._numeric("907", "You have already authenticated")
            return
        if self._sasl is None:
            if params[0].upper() != "PLAIN":
                self._numeric("908", "PLAIN", "are available SASL mechanisms")
                self._numeric("904", "SASL authentication failed")
                return
            self._sasl = "PLAIN"
            self._reply(build("AUTHENTICATE", "+"))
            return
        self._sasl = None
        if params[0] == "*":
            self._numeric("906", "SASL authentication aborted")
            return
        try:
            _, account, password = base64.b64decode(params[0], validate=True).decode().split("\0")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            self._numeric("904", "SASL authentication failed")
            return
        self.session.authenticate(account, password)

    def _register(self) -> None:
        if self._negotiating or self._nickname is None or self._user is None:
            return
        if self.session.user is None:
            self.session.choose_nickname(self._nickname)

    def tell(self, reply: r.Reply) -> None:
        if isinstance(reply, r.LoggedIn) and self._verb != "MOTD":
            # Registered: who the user says it is, then LUSERS before the MOTD.
            self.session.describe(self._user or self._me, self._realname)
            self.session.counts()
        if isinstance(reply, r.PasswordWanted) and self._password is not None:
            # PASS before registration: the password of a registered nickname.
            password, self._password = self._password, None
            self.session.give_password(password)
            return
        super().tell(reply)

    # After registration.

    def ping(self, params: tuple[str, ...]) -> None:
        self._reply(build("PONG", self._server, params[0], source=self._server))

    def pong(self, params: tuple[str, ...]) -> None:
        pass

    def join(self, params: tuple[str, ...]) -> None:
        if params[0] == "0":
            user = self.session.user
            for joined in list(user.rooms if user else ()):
                self.part((w.channel(joined.name),))
            return
        keys = params[1].split(",") if len(params) > 1 else []
        for i, name in enumerate(params[0].split(",")):
            room = w.room_of(name)
            if room is None:
                self._numeric("403", name, "No such channel")
                continue
            try:
                self.session.join(room, key=keys[i] if i < len(keys) else None)
            except AlreadyInRoom:
                continue
            except ChatError as e:
                # One channel refused: the others are still joined.
                self._refused(e)

    def part(self, params: tuple[str, ...]) -> None:
        reason = params[1] if len(params) > 1 else None
        for name in params[0].split(","):
            room = w.room_of(name)
            if room is None:
                self._numeric("403", name, "No such channel")
                continue
            try:
                left = self.session.part(room, reason)
            except ChatError as e:
                self._refused(e)
                continue
            # The one who leaves sees its PART too (others saw it from the domain).
            self._reply(
                build(
                    "PART",
                    w.channel(left),
                    clean(reason or "") or "Left",
                    source=w.mask(self._me),
                    text=True,
                )
            )

    def privmsg(self, params: tuple[str, ...]) -> None:
        if not params:
            self._numeric("411", f"No recipient given ({self._verb})")
            return
        if len(params) < 2 or not params[1]:
            self._numeric("412", "No text to send")
            return
        text = params[1]
        action = text.startswith("\x01ACTION ") and text.endswith("\x01")
        if action:
            text = text[8:-1]
        elif text.startswith("\x01"):
            return  # other CTCP: not carried
        notice = self._verb == "NOTICE"
        for target in params[0].split(","):
            room = w.room_of(target)
            try:
                if room is not None:
                    event = (
                        self.session.act(room, text)
                        if action
                        else self.session.say(room, text, notice, self._tags)
                    )
                    if event is not None and "echo-message" in self._caps:
                        # The very message the others got, with its id.
                        self._reply(self._encode(event))
                elif target.lower() == w.SERVICES.lower():
                    self._services(text)
                else:
                    self.session.whisper(target, text, notice, self._tags)
            except ChatError as e:
                # One target refused: the others still get it; a NOTICE is never answered.
                if not notice:
                    self._refused(e)

    def tagmsg(self, params: tuple[str, ...]) -> None:
        """
        Tags alone ("typing..."), for clients that take them; only with message-tags.
        """
        if "message-tags" not in self._caps or not self._tags:
            return
        for target in params[0].split(","):
            room = w.room_of(target)
            event = self.session.tag(
                room if room is not None else target, self._tags, room is not None
            )
            if "echo-message" in self._caps:
                self._reply(self._encode(event))

    def _services(self, text: str) -> None:
        """
        C{/msg NickServ IDENTIFY PASSWORD} or C{REGISTER PASSWORD}, for
        clients without SASL, on the same accounts as C{/register}.
        """
        command, _, argument = text.strip().partition(" ")
        command = command.upper()
        if command == "IDENTIFY":
            words = argument.split()
            if len(words) == 2:
                self.session.authenticate(words[0], words[1])
            elif len(words) == 1:
                self.session.authenticate(self._me, words[0])
            else:
                self._reply(w.notice_from_services(self._me, "Usage: IDENTIFY [NICK] PASSWORD"))
        elif command == "REGISTER" and argument.strip():
            self.session.register(argument.split()[0])
        elif command in ("REGAIN", "GHOST", "RECOVER") and len(argument.split()) == 2:
            nickname, password = argument.split()
            self.session.regain(nickname, password)
        else:
            self._reply(
                w.notice_from_services(
                    self._me,
                    "Commands: IDENTIFY [NICK] PASSWORD, REGISTER PASSWORD, REGAIN NICK PASSWORD",
                )
            )

    def topic(self, params: tuple[str, ...]) -> None:
        room = w.room_of(params[0])
        if room is None:
            self._numeric("403", params[0], "No such channel")
            return
        self.session.topic(room, params[1] if len(params) > 1 else None)

    def names(self, params: tuple[str, ...]) -> None:
        if not params:
            self._numeric("366", "*", "End of /NAMES list")
            return
        for name in params[0].split(","):
            room = w.room_of(name)
            if room is None or not self._exists(room):
                self._numeric("366", name, "End of /NAMES list")
            else:
                self.session.who(room)

    def list_(self, params: tuple[str, ...]) -> None:
        names = [w.room_of(name) for name in params[0].split(",")] if params else []
        if params and not params[0].startswith(("<", ">", "C", "T")):
            self.session.rooms_named([name for name in names if name is not None])
        else:
            self.session.rooms()

    def who(self, params: tuple[str, ...]) -> None:
        mask = params[0] if params else "*"
        room = w.room_of(mask)
        if room is None:
            self.session.members(None)  # filtered by the mask when rendered
        elif self._exists(room):
            self.session.members(room)
        else:
            self._numeric("315", mask, "End of /WHO list")

    def _exists(self, room: str) -> bool:
        try:
            self.session.chat.room(room)
        except NoSuchRoom:
            return False
        return True

    def whois(self, params: tuple[str, ...]) -> None:
        try:
            self.session.whois(params[-1])
        except NoSuchUser:
            self._numeric("401", params[-1], "No such nick/channel")
            self._numeric("318", params[-1], "End of /WHOIS list")

    def whowas(self, params: tuple[str, ...]) -> None:
        if not params or not params[0]:
            self._numeric("431", "No nickname given")
            return
        count = None
        if len(params) > 1:
            try:
                count = int(params[1])
            except ValueError:
                count = None
        self.session.whowas(params[0].split(",")[0], count)

    def monitor(self, params: tuple[str, ...]) -> None:
        """
        IRCv3 MONITOR: + and - nicknames, C (clear), L (list), S (status).
        """
        sub = params[0].upper()
        if sub in ("+", "-") and len(params) < 2:
            self._numeric("461", "MONITOR", "Not enough parameters")
            return
        if sub == "+":
            wanted = [n for n in params[1].split(",") if n]
            for nickname in wanted:
                if any(c in nickname for c in "*?!@"):
                    self._numeric("432", nickname, "Erroneous nickname")
            wanted = [n for n in wanted if not any(c in n for c in "*?!@")]
            have = len(self.session.watched())
            room = max(0, MONITOR_LIMIT - have)
            if len(wanted) > room:
                self._numeric("734", str(MONITOR_LIMIT), ",".join(wanted), "Monitor list is full")
                wanted = wanted[:room]
            self._tell_presence(self.session.watch(wanted))
        elif sub == "-":
            self.session.unwatch(params[1].split(","))
        elif sub == "C":
            self.session.unwatch(None)
        elif sub == "L":
            watched = [nickname for nickname, _ in self.session.watched()]
            if watched:
                self._numeric("732", ",".join(watched))
            self._numeric("733", "End of MONITOR list")
        elif sub == "S":
            self._tell_presence(self.session.watched())

    def _tell_presence(self, found: Sequence[tuple[str, UserView | None]]) -> None:
        online = [user for _, user in found if user is not None]
        offline = [nickname for nickname, user in found if user is None]
        if online:
            masks = [f"{u.nickname}!{u.username or u.nickname}@{w.HOST}" for u in online]
            self._numeric("730", ",".join(masks))
        if offline:
            self._numeric("731", ",".join(offline))

    def setname(self, params: tuple[str, ...]) -> None:
        if self.session.set_realname(params[0]) is None:
            self._reply(
                build(
                    "FAIL",
                    "SETNAME",
                    "INVALID_REALNAME",
                    "Realname is not valid",
                    source=self._server,
                )
            )

    def ison(self, params: tuple[str, ...]) -> None:
        self.session.members(None, " ".join(params).split())

    def userhost(self, params: tuple[str, ...]) -> None:
        self.session.members(None, " ".join(params).split()[:5])

    def mode(self, params: tuple[str, ...]) -> None:
        target = params[0]
        room = w.room_of(target)
        if room is not None:
            if len(params) == 1:
                self.session.modes(room, None)
            else:
                changes = params[1] if params[1][:1] in "+-" else "+" + params[1]
                self.session.modes(room, changes, params[2:])
        elif target.lower() == self._me.lower():
            self._user_modes(params[1] if len(params) > 1 else None)
        elif self.session.chat.is_online(target):
            self._numeric("502", "Can't change mode for other users")
        else:
            self._numeric("401", target, "No such nick/channel")

    def _user_modes(self, changes: str | None) -> None:
        """
        The user's own modes: C{w} (WALLOPS, on from the start) and C{i}
        may be set and unset; C{o} comes with OPER.
        """
        if changes is None:
            operator = "o" if self.session.operator else ""
            self._numeric("221", "+" + "".join(sorted(self._umodes | set(operator))))
            return
        on, made, unknown = True, "", False
        for letter in changes:
            if letter in "+-":
                on = letter == "+"
            elif letter in "Biw":
                if (letter in self._umodes) != on:
                    (self._umodes.add if on else self._umodes.discard)(letter)
                    made += ("+" if on else "-") + letter
                    if letter == "i":
                        self.session.set_invisible(on)
                    elif letter == "B":
                        self.session.set_bot(on)
            elif letter != "o":
                unknown = True
        if unknown:
            self._numeric("501", "Unknown MODE flag")
        self._encode = self._factory.encoder(self._caps, "w" in self._umodes)
        if made:
            self._reply(build("MODE", self._me, made, source=w.mask(self._me)))

    def kick(self, params: tuple[str, ...]) -> None:
        # KICK #room nick: out of the room (KILL throws a user off the server).
        reason = params[2] if len(params) > 2 else None
        rooms, nicknames = params[0].split(","), params[1].split(",")
        if len(rooms) == 1:
            rooms = rooms * len(nicknames)
        for name, nickname in zip(rooms, nicknames, strict=False):
            room = w.room_of(name)
            if room is None:
                self._numeric("403", name, "No such channel")
                continue
            try:
                self.session.kick_from(room, nickname, reason)
            except ChatError as e:
                self._refused(e)

    def invite(self, params: tuple[str, ...]) -> None:
        room = w.room_of(params[1])
        if room is None:
            self._numeric("403", params[1], "No such channel")
            return
        self.session.invite(params[0], room)

    def wallops(self, params: tuple[str, ...]) -> None:
        if clean(params[0]).strip():
            self.session.announce(params[0])
        else:
            self._numeric("461", "WALLOPS", "Not enough parameters")

    def oper(self, params: tuple[str, ...]) -> None:
        self.session.become_operator(params[0], params[1])

    def motd(self, params: tuple[str, ...]) -> None:
        self.tell(r.LoggedIn(self.service.settings.motd))

    def lusers(self, params: tuple[str, ...]) -> None:
        self.session.counts()

    def time(self, params: tuple[str, ...]) -> None:
        now = self.service.clock.seconds()
        self._numeric("391", self._server, w.server_time(now))

    def info(self, params: tuple[str, ...]) -> None:
        self._numeric("371", "chat: a small chat server on Twisted, with a line protocol and IRC")
        self._numeric("374", "End of INFO list")

    def kill(self, params: tuple[str, ...]) -> None:
        # An operator's KILL is chat's kick.
        reason = params[1] if len(params) > 1 else None
        self.session.kick(params[0], reason)

    def away(self, params: tuple[str, ...]) -> None:
        self.session.set_away(params[0] if params else None)

    def quit(self, params: tuple[str, ...]) -> None:
        self.session.quit(params[0] if params else None)

    def help(self, params: tuple[str, ...]) -> None:
        self.session.help()

    # Replies.

    def render(self, reply: r.Reply) -> bytes:
        return render(self, reply)


WHOX_FIELDS = "tcuihsnfdlaor"
"""
IRCv3 WHOX's fields, in the order a 354 reply gives them whatever the order asked.
"""


def _who(connection: IRCProtocol, room: str | None, members: Sequence[r.Member]) -> bytes:
    """
    WHO's answer: a 352 per member, or with C{%FIELDS[,TOKEN]} (WHOX) a 354
    with those fields, then 315.
    """
    server, me, params = connection._server, connection._me, connection._params
    mask = params[0] if params else "*"
    if room is None:
        wild = "*" in mask or "?" in mask
        members = [
            m
            for m in members
            if fnmatch.fnmatchcase(m.nickname.lower(), mask.lower()) and not (wild and m.hidden)
        ]
    every = "multi-prefix" in connection._caps
    whox = params[1] if len(params) > 1 and params[1].startswith("%") else None
    fields, _, token = whox[1:].partition(",") if whox is not None else ("", "", "")
    where = w.channel(room) if room is not None else "*"
    lines = []
    for m in members:
        flags = (
            ("G" if m.away else "H")
            + ("*" if m.operator else "")
            + w.marks(m.room_operator, m.voiced, every)
            + ("B" if m.bot else "")
        )
        if whox is None:
            lines.append(
                w.numeric(
                    server,
                    "352",
                    me,
                    where,
                    m.username or m.nickname,
                    w.HOST,
                    server,
                    m.nickname,
                    flags,
                    f"0 {m.realname or m.nickname}",
                )
            )
            continue
        values = {
            "t": token or "0",
            "c": where if room is not None else (w.channel(m.room) if m.room else "*"),
            "u": m.username or m.nickname,
            "i": "255.255.255.255",  # chat shows no addresses
            "h": w.HOST,
            "s": server,
            "n": m.nickname,
            "f": flags,
            "d": "0",
            "l": str(m.idle),
            "a": m.account or "0",
            "o": "n/a",
            "r": m.realname or m.nickname,
        }
        chosen = [values[f] for f in WHOX_FIELDS if f in fields]
        lines.append(w.numeric(server, "354", me, *chosen))
    return b"".join(lines) + w.numeric(server, "315", me, mask, "End of /WHO list")


def _ref(connection: IRCProtocol) -> str | None:
    """
    A new batch reference, for a client that takes batches.
    """
    return connection._factory.batch_ref() if "batch" in connection._caps else None


def _tagged(line: bytes, tag: bytes) -> bytes:
    """
    C{line} (without its CRLF) with one more tag.
    """
    if line.startswith(b"@"):
        return b"@" + tag + b";" + line[1:]
    return b"@" + tag + b" " + line


def render(connection: IRCProtocol, reply: r.Reply) -> bytes:
    """
    C{reply} as IRC numerics and notices, for C{connection}'s user.
    """
    server, me, verb = connection._server, connection._me, connection._verb

    def numeric(code: str, *params: str) -> bytes:
        return w.numeric(server, code, me, *params)

    def notice(text: str) -> bytes:
        return build("NOTICE", me, text, source=server)

    def services(text: str) -> bytes:
        return w.notice_from_services(me, text)

    def closing(text: str) -> bytes:
        return build("ERROR", f"Closing link: {text}")

    match reply:
        case ChatError():
            return w.error_numeric(server, me, reply, verb)
        case r.Greeting() | r.NicknameWanted():
            return b""
        case r.PasswordWanted(nickname):
            return numeric(
                "433", nickname, "Nickname is registered: identify with SASL or PASS"
            ) + services(
                f"{nickname} is registered: identify with /msg NickServ IDENTIFY {nickname} "
                "PASSWORD, SASL or PASS, or choose another nickname."
            )
        case r.WrongPassword(left):
            return numeric("464", f"Password incorrect; {left} tries left")
        case r.NicknameBanned(nickname, _):
            return numeric("432", nickname, "Nickname is banned")
        case r.LoginFirst():
            return numeric("451", "You have not registered")
        case r.LoggedIn(motd):
            if not motd:
                return numeric("422", "MOTD File is missing")
            return (
                numeric("375", f"- {server} Message of the day - ")
                + b"".join(numeric("372", f"- {line}") for line in motd)
                + numeric("376", "End of /MOTD command")
            )
        case r.LoggedInAlready():
            return numeric("462", "You may not reregister")
        case r.Authenticated(account):
            return numeric("900", w.mask(me), account, f"You are now logged in as {account}") + (
                numeric("903", "SASL authentication successful")
                if verb == "AUTHENTICATE"
                else services(f"You are now identified for {account}.")
            )
        case r.Operator():
            return numeric("381", "You are now an IRC operator") + build(
                "MODE", me, "+o", source=server
            )
        case r.UnknownCommand(name):
            return numeric("421", name, "Unknown command")
        case r.Usage(name) | r.OutOfRange(name):
            return numeric("461", verb or name.upper(), "Not enough parameters")
        case r.OperatorsOnly():
            return numeric("481", "Permission Denied- You're not an IRC operator")
        case r.Unavailable(feature):
            return notice(f"This server runs without {feature.value}.")
        case r.TooManyRenames():
            return numeric("438", me, "Nick change too fast; wait a little")
        case r.TooManyRoomChanges():
            return numeric("405", "*", "Too many channel changes; wait a little")
        case r.TooFast(rate, burst):
            return notice(
                f"You are sending too fast (at most {rate:g} lines a second, bursts of {burst}); "
                "lines over that wait their turn."
            )
        case r.LineTooLong():
            return numeric("417", "Input line was too long")
        case r.InternalError():
            return numeric("400", verb, "Internal server error; that command was not processed")
        case r.Help():
            subject = connection._params[0].upper() if connection._params else "*"
            if subject != "*" and subject not in _VERBS:
                return numeric("524", subject, "No help available on this topic")
            return (
                numeric("704", subject, "chat speaks IRC; these commands work:")
                + numeric("705", subject, " ".join(sorted(_VERBS)))
                + numeric("705", subject, "See docs/irc.md for how rooms and nicknames map.")
                + numeric("706", subject, "End of /HELP")
            )
        case r.Members(None, asked) if verb in ("ISON", "USERHOST"):
            if verb == "ISON":
                return numeric("303", " ".join(m.nickname for m in asked))
            return numeric(
                "302",
                " ".join(
                    f"{m.nickname}{'*' if m.operator else ''}={'-' if m.away else '+'}"
                    f"{m.username or m.nickname}@{w.HOST}"
                    for m in asked[:5]
                ),
            )
        case r.Users(members, None):
            return numeric("302", " ".join(members))
        case r.Users(members, str() as room, ops, voiced, secret):
            caps = connection._caps
            return w.names(
                server,
                me,
                room,
                members,
                "userhost-in-names" in caps,
                ops,
                voiced,
                "multi-prefix" in caps,
                "@" if secret else "=",
            )
        case r.Away(None):
            return numeric("305", "You are no longer marked as being away")
        case r.Away():
            return numeric("306", "You have been marked as being away")
        case r.Members(room, members):
            return _who(connection, room, members)
        case r.Whois(
            nickname, rooms, operator, away, username, realname, ops, voiced, bot, account
        ):
            lines = [
                numeric("311", nickname, username or nickname, w.HOST, "*", realname or nickname)
            ]
            every = "multi-prefix" in connection._caps
            if rooms:
                lines.append(
                    numeric(
                        "319",
                        nickname,
                        " ".join(
                            w.prefix(room, ops, voiced, every) + w.channel(room) for room in rooms
                        ),
                    )
                )
            lines.append(numeric("312", nickname, server, "chat"))
            if operator:
                lines.append(numeric("313", nickname, "is an IRC operator"))
            if bot:
                lines.append(numeric("335", nickname, "is a bot"))
            if account is not None:
                lines.append(numeric("330", nickname, account, "is logged in as"))
            if away:
                lines.append(numeric("301", nickname, away))
            lines.append(numeric("318", nickname, "End of /WHOIS list"))
            return b"".join(lines)
        case r.WasHere(nickname, []):
            return numeric("406", nickname, "There was no such nickname") + numeric(
                "369", nickname, "End of WHOWAS"
            )
        case r.WasHere(nickname, was):
            return b"".join(
                numeric(
                    "314",
                    w_.nickname,
                    w_.username or w_.nickname,
                    w.HOST,
                    "*",
                    w_.realname or w_.nickname,
                )
                + numeric("312", w_.nickname, server, w.server_time(w_.at))
                for w_ in was
            ) + numeric("369", nickname, "End of WHOWAS")
        case r.Counts(users, operators, unregistered, rooms, peak):
            peak = max(peak, users)
            return (
                numeric("251", f"There are {users} users and 0 invisible on 1 servers")
                + numeric("252", str(operators), "operator(s) online")
                + numeric("253", str(unregistered), "unknown connection(s)")
                + numeric("254", str(rooms), "channels formed")
                + numeric("255", f"I have {users} clients and 0 servers")
                + numeric("265", str(users), str(peak), f"Current local users {users}, max {peak}")
                + numeric("266", str(users), str(peak), f"Current global users {users}, max {peak}")
            )
        case r.Rooms(infos):
            return (
                numeric("321", "Channel", "Users  Name")
                + b"".join(
                    # An empty permanent room (the lobby) is no channel to IRC.
                    numeric("322", w.channel(i.name), str(i.users), i.topic or "")
                    for i in infos
                    if i.users
                )
                + (
                    notice(f"Only the first {ROOMS_PAGE} channels are listed.")
                    if reply.more
                    else b""
                )
                + numeric("323", "End of /LIST")
            )
        case r.Topic(room, None):
            return numeric("331", w.channel(room), "No topic is set")
        case r.Topic(room, str() as text, by, at):
            said = numeric("332", w.channel(room), text)
            if by is not None and at is not None:
                said += numeric("333", w.channel(room), w.mask(by), str(int(at)))
            return said
        case r.RoomModes(room, modes, created):
            letters, arguments = mode_string(modes)
            return numeric("324", w.channel(room), letters or "+", *arguments) + numeric(
                "329", w.channel(room), str(int(created))
            )
        case r.RoomBans(room, bans):
            return b"".join(
                numeric("367", w.channel(room), ban.mask, w.mask(ban.by), str(int(ban.at)))
                for ban in bans
            ) + numeric("368", w.channel(room), "End of channel ban list")
        case r.Inviting(nickname, room):
            return numeric("341", nickname, w.channel(room))
        case r.Kept(recipient, _):
            return notice(f"{recipient} is away; your message will be delivered when they log in.")
        case r.KeptMessages(entries):
            return w.stored(
                server, me, entries, "server-time" in connection._caps, _ref(connection)
            )
        case (
            r.RecentHistory(room, entries)
            | r.LastMessages(room, _, entries)
            | r.Found(room, _, entries)
        ):
            caps = connection._caps
            return w.stored(server, me, entries, "server-time" in caps, _ref(connection), room)
        case r.HistoryFailed():
            return notice("History is unavailable right now.")
        case r.Registered(nickname):
            return services(f"{nickname} is now registered.")
        case r.RegisteredNickname(nickname):
            return numeric("433", nickname, "Nickname is registered; identify to use it")
        case r.Reserved(nickname):
            if verb == "PRIVMSG":
                return services(f"{nickname} is kept for an operator of this server.")
            return numeric("432", nickname, "Nickname is reserved for an operator")
        case r.NearlyFull():
            return numeric("433", "*", "Server nearly full: only registered nicknames now")
        case r.NotKept(recipient, why, limit):
            return notice(f"Not kept for {recipient}: {why.value} ({limit}).")
        case r.NotSaved():
            return services("The server cannot save that right now; nothing was changed.")
        case r.StoreDown():
            return services("The server cannot use its database right now; try again later.")
        case r.TooManyWords(limit):
            return notice(f"Search for at most {limit} words.")
        case r.SearchTooSlow():
            return notice("That search took too long and was stopped.")
        case r.OneAtATime():
            return notice("Wait for the history you asked for before asking again.")
        case r.TooManyRegistrations():
            return services("Too many registrations from your address; try again later.")
        case r.NotSent(command):
            return notice(f"Not sent: did you mean {command}?")
        case r.BanningYourself(target):
            return notice(f"{target} is you: an operator cannot ban itself.")
        case r.Dropped(count):
            return notice(f"Ignored {count} lines sent before the refusal.")
        case r.BadNewPassword():
            return services("Choose another password: at least 6 characters, at most 200.")
        case r.PasswordChanged():
            return services("Your password is changed.")
        case r.Unregistered(nickname):
            return services(f"{nickname} is no longer registered.")
        case r.NotProven():
            if verb == "AUTHENTICATE":
                return numeric("904", "SASL authentication failed")
            if verb == "OPER":
                return numeric("464", "Password incorrect")
            return services("Wrong password, or that nickname is not registered.")
        case r.KickedOut(nickname):
            return notice(f"{nickname} is kicked.")
        case r.Banned(target, _):
            return notice(f"{target} is banned.")
        case r.Unbanned(target):
            return notice(f"{target} is no longer banned.")
        case r.NotBanned(target):
            return notice(f"{target} is not banned.")
        case r.BanList(bans):
            return b"".join(notice(f"{ban.target} (by {ban.by})") for ban in bans) + notice(
                "End of bans."
            )
        case r.Quit():
            return closing("Quit")
        case r.ShuttingDown():
            return notice("The server is shutting down.") + closing("Server shutting down")
        case r.AddressBanned():
            return numeric("465", "You are banned from this server") + closing("Banned")
        case r.ServerFull(limit):
            return closing(f"The server is full ({limit} connections)")
        case r.TooManyConnections(host):
            return closing(f"Too many new connections from {host}; wait a little")
        case r.HostFull(host, limit):
            return closing(f"Too many connections from {host} ({limit})")
        case r.LoginTimedOut():
            return closing("Registration timed out")
        case r.IdleTimedOut():
            return closing("Idle timeout")
        case r.PingTimedOut(seconds):
            return closing(f"Ping timeout: {seconds:g} seconds")
        case r.Flooding():
            return closing("Excess Flood")
        case r.OutOfTries():
            return numeric("464", "Password incorrect") + closing("Too many wrong passwords")
        case r.LockedOut(_, None):
            return closing("Too many wrong passwords from your address; try again later")
        case r.LockedOut(_, str() as account):
            return closing(f"Too many wrong passwords for {account}; try again later")
        case r.ThrownOut(departure):
            return closing(w.gone(departure))
    raise TypeError(f"not a reply: {reply!r}")


_VERBS: dict[str, tuple[Verb, int, bool]] = {
    # verb: (handler, parameters at least, usable before registration)
    "CAP": (IRCProtocol.cap, 1, True),
    "PASS": (IRCProtocol.pass_, 1, True),
    "NICK": (IRCProtocol.nick, 0, True),
    "USER": (IRCProtocol.user, 4, True),
    "AUTHENTICATE": (IRCProtocol.authenticate, 1, True),
    "PING": (IRCProtocol.ping, 1, True),
    "PONG": (IRCProtocol.pong, 0, True),
    "QUIT": (IRCProtocol.quit, 0, True),
    "JOIN": (IRCProtocol.join, 1, False),
    "PART": (IRCProtocol.part, 1, False),
    "PRIVMSG": (IRCProtocol.privmsg, 0, False),
    "TAGMSG": (IRCProtocol.tagmsg, 1, False),
    "NOTICE": (IRCProtocol.privmsg, 0, False),
    "TOPIC": (IRCProtocol.topic, 1, False),
    "NAMES": (IRCProtocol.names, 0, False),
    "LIST": (IRCProtocol.list_, 0, False),
    "WHO": (IRCProtocol.who, 0, False),
    "WHOIS": (IRCProtocol.whois, 1, False),
    "ISON": (IRCProtocol.ison, 1, False),
    "WHOWAS": (IRCProtocol.whowas, 0, False),
    "MONITOR": (IRCProtocol.monitor, 1, False),
    "SETNAME": (IRCProtocol.setname, 1, False),
    "USERHOST": (IRCProtocol.userhost, 1, False),
    "MODE": (IRCProtocol.mode, 1, False),
    "KICK": (IRCProtocol.kick, 2, False),
    "INVITE": (IRCProtocol.invite, 2, False),
    "WALLOPS": (IRCProtocol.wallops, 1, False),
    "OPER": (IRCProtocol.oper, 2, False),
    "MOTD": (IRCProtocol.motd, 0, False),
    "LUSERS": (IRCProtocol.lusers, 0, False),
    "TIME": (IRCProtocol.time, 0, False),
    "INFO": (IRCProtocol.info, 0, False),
    "KILL": (IRCProtocol.kill, 1, False),
    "AWAY": (IRCProtocol.away, 0, False),
    "HELP": (IRCProtocol.help, 0, False),
}
