"""
One IRC client, whatever carries it: the IRC dialect over the shared
L{chat.net.connection.Connection}.

A line in becomes one verb of the door's table (L{chat.irc.verbs}), each one
session call; events are written by the kind's shared encoder
(L{chat.irc.wording}), replies by L{chat.irc.render} from an explicit
context; a labelled command's answer is gathered in a response buffer of its
own (L{chat.irc.labels}). A byte stream (TCP, TLS) hands it bytes
(L{IRCConnection.stream}); a WebSocket hands it one line per frame
(L{Connection.received}). Registration (CAP, PASS, NICK, USER, SASL) is
L{chat.irc.registration}'s.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import NamedTuple, Protocol

from chat.core import replies as r
from chat.core.errors import AlreadyInRoom, ChatError
from chat.core.events import Event, Tags
from chat.core.service import ChatService
from chat.irc import wording as w
from chat.irc.labels import Answer, labelled
from chat.irc.message import Message as IRCMessage
from chat.irc.message import build, parse, valid_client_tag
from chat.irc.multiline import Gathering, gathers
from chat.irc.registration import Registration
from chat.irc.render import Context, render
from chat.net.connection import Connection
from chat.net.encoding import Encoder
from chat.net.framing import LineBuffer

MAX_LINE_BYTES = 8191 + 512
"""
IRCv3: up to 8191 bytes of tags, then the 512 of the message itself.
"""

_MESSAGES = frozenset({"PRIVMSG", "NOTICE", "TAGMSG"})
"""
The verbs whose answer, to a labelled command, is the message's echo.
"""

_Command = tuple[str, tuple[str, ...], Tags]
_NO_COMMAND: _Command = ("", (), ())

# What every client has until it asks for a capability: one set for all of
# them (an empty frozenset is a new object of 216 bytes each time).
_NO_CAPS: frozenset[str] = frozenset()


class Verb(NamedTuple):
    """
    One IRC command: what handles it, how many parameters it needs at
    least, and whether it may be used before registration.
    """

    run: Callable[[IRCConnection, tuple[str, ...]], None]
    least: int = 0
    early: bool = False


class Kind(Protocol):
    """
    What IRC connections share (their factory): the verbs, an encoder per
    kind of client, and batch references.
    """

    verbs: Mapping[str, Verb]

    def encoder(self, caps: frozenset[str] = frozenset(), wallops: bool = True) -> Encoder: ...

    def batch_ref(self) -> str: ...


class IRCConnection(Connection):
    """
    One IRC client.

    @ivar caps: the IRCv3 capabilities it took.
    @ivar umodes: its user modes, as letters (C{w}: WALLOPS reach it; C{i}, C{B}).
    @ivar registration: what registration gathers, until it is done.
    """

    # Numerics wait with the events while history is read: IRC clients
    # (and labeled-response) rely on answers coming in order.
    ordered = True

    __slots__ = (
        "_answer",
        "_command",
        "_handling",
        "_lines",
        "_quiet",
        "caps",
        "kind",
        "multiline",
        "registration",
        "umodes",
    )

    @property
    def replays(self) -> bool:  # type: ignore[override]
        """
        A client that takes C{draft/chathistory} asks for a room's past itself.
        """
        return "draft/chathistory" not in self.caps

    def __init__(self, service: ChatService, kind: Kind) -> None:
        super().__init__(service, kind.encoder())
        self.kind = kind
        self._lines: LineBuffer | None = None
        # PING rounds since it last said anything: 0, it spoke since the
        # last; 1, it did not (the next round PINGs it); 2, a PING of ours
        # is unanswered (the next closes it).
        self._quiet = 0
        self.caps = _NO_CAPS
        self.umodes = "w"
        self.registration: Registration | None = Registration()
        # The command being handled: its verb, parameters and client-only
        # tags (one slot, not three).
        self._command: _Command = _NO_COMMAND
        # Whether a command is being handled (its words in verb and params).
        self._handling = False
        # The answer being gathered for a labelled command.
        self._answer: Answer | None = None
        # A multiline batch the client is sending (chat.irc.multiline).
        self.multiline: Gathering | None = None

    @property
    def verb(self) -> str:
        """
        The command being handled, for replies whose numerics depend on it.
        """
        return self._command[0]

    @property
    def params(self) -> tuple[str, ...]:
        """
        That command's parameters.
        """
        return self._command[1]

    @property
    def tags(self) -> Tags:
        """
        The client-only tags (+name) of the message being handled.
        """
        return self._command[2]

    # Input.

    def stream(self, data: bytes) -> None:
        lines = self._lines
        if lines is None:
            lines = LineBuffer(MAX_LINE_BYTES)
        items = lines.feed(data)
        # Kept only while it holds part of a line: an idle client has none.
        self._lines = None if lines.empty else lines
        self.received(items)

    def stream_ended(self) -> list[object]:
        return list(self._lines.finish()) if self._lines is not None else []

    def received(self, items: Sequence[object]) -> None:
        self._quiet = 0
        super().received(items)

    def check(self, token: str, seconds: float) -> None:
        """
        A PING round: PING a client that said nothing since the last one;
        close one that did not answer the last PING either.
        """
        quiet = self._quiet
        if quiet == 0:
            self._quiet = 1
        elif quiet == 1:
            self._quiet = 2
            self.reply(build("PING", token, source=self.server))
        else:
            self.session.unanswered(seconds)

    def interpret(self, item: object) -> None:
        if not isinstance(item, bytes):
            self.tell(r.LineTooLong(MAX_LINE_BYTES))
            return
        try:
            text = item.decode("utf-8")
        except UnicodeDecodeError:
            # UTF8ONLY: nothing that is not UTF-8 is relayed, or kept.
            self.fail(_verb_of(item), "INVALID_UTF8", "Message rejected: it is not UTF-8")
            return
        message = parse(text)
        if message is None:
            return
        tagged = item.startswith(b"@")
        untagged = item.split(b" ", 1)[-1].lstrip(b" ") if tagged else item
        if (
            len(untagged) + 2 > w.LINE_BYTES
            or (tagged and len(item) - len(untagged) - 2 > w.CLIENT_TAG_BYTES)
            or (message.verb in ("PRIVMSG", "NOTICE") and self.relayed(untagged) > w.LINE_BYTES)
        ):
            # Over 512 bytes (or over 4094 bytes of tags), or too long to
            # reach others in one line with the sender's mask in front:
            # refused, as IRC servers do.
            self._command = (message.verb, (), ())
            self.tell(r.LineTooLong(w.LINE_BYTES))
            self._forget()
            return
        tags = (
            tuple((k, v) for k, v in message.tags.items() if k.startswith("+"))
            if message.tags and "message-tags" in self.caps
            else ()
        )
        if not all(valid_client_tag(k, v) for k, v in tags):
            # Relayed, their names would be written as they are.
            self.fail(
                message.verb,
                "INVALID_TAG",
                "Message rejected: a client tag's name is letters, digits and hyphens "
                "(after a vendor/), its value has no NUL",
            )
            return
        self._command = (message.verb, message.params, tags)
        label = message.tags.get("label") if "labeled-response" in self.caps else None
        self._handling = True
        try:
            if (message.verb == "BATCH" or "batch" in message.tags) and gathers(
                self, message, tags
            ):
                pass
            elif label:
                echoed = message.verb in _MESSAGES and "," not in (message.params or ("",))[0]
                self._labelled(Answer(label, echoed), lambda: self._dispatch(message))
            else:
                self._dispatch(message)
        finally:
            self._handling = False
        if not self.session.waiting:
            self._forget()

    def _forget(self) -> None:
        """
        The command is handled: its words are not kept for as long as the
        client stays idle (a USER line's are 300 bytes). One that waits on a
        step keeps them until it is answered: its answer names it.
        """
        self._command = _NO_COMMAND

    def _dispatch(self, message: IRCMessage) -> None:
        verb = self.kind.verbs.get(message.verb)
        registered = self.session.user is not None
        if verb is None:
            if registered:
                self.numeric("421", message.verb, "Unknown command")
            else:
                self.numeric("451", "You have not registered")
            return
        if not registered and not verb.early:
            self.numeric("451", "You have not registered")
            return
        if len(message.params) < verb.least:
            self.numeric("461", message.verb, "Not enough parameters")
            return
        try:
            verb.run(self, message.params)
        except ChatError as e:
            # No automatic reply to a NOTICE, not even an error (RFC 2812 3.3.2).
            if message.verb != "NOTICE":
                self.refused(e)

    # labeled-response: each labelled command's answer in a buffer of its own.

    def send_gathered(self, label: str | None, send: Callable[[], None], target: str) -> None:
        """
        Send a multiline batch (C{send}), answered with C{label} if its
        opening line had one: on the first line of its echo to a channel.
        """
        if label is None:
            send()
            return
        room = w.room_of(target) is not None
        self._labelled(Answer(label, echoed=True, first=room), send)

    def _labelled(self, answer: Answer, handle: Callable[[], None]) -> None:
        """
        Handle a command (C{handle}) with its answer gathered in C{answer};
        label and send it once complete (now, or when what it waits for is
        answered).
        """
        self._answer = answer
        self._gather(answer)
        try:
            handle()
        except Exception as e:
            self.session.report(e)
        finally:
            self._ungather(answer)
        if not self.session.waiting:
            self._finish(answer)

    def _gather(self, answer: Answer) -> None:
        # What this connection is told goes to the answer, not the client.
        if answer.depth == 0:
            answer.outer, self._held = self._held, answer.lines
        answer.depth += 1

    def _ungather(self, answer: Answer) -> None:
        answer.depth -= 1
        if answer.depth == 0:
            # A history read that began meanwhile holds what comes next.
            self._held = [] if answer.holding else answer.outer
            answer.outer = None

    def _finish(self, answer: Answer) -> None:
        self._answer = None
        data = labelled(answer, self.server, self.kind.batch_ref)
        held = self._held
        if held is not None and not answer.holding:
            # Behind the history of an earlier command, still being read.
            held.append(data)
        else:
            self._send(data)

    def answering(self) -> None:
        if self._answer is not None:
            self._gather(self._answer)

    def answered(self, more: bool = False) -> None:
        if not more and not self._handling:
            # A step answered after its command returned: the command is done.
            self._forget()
        answer = self._answer
        if answer is None or answer.depth == 0:
            return
        self._ungather(answer)
        if not more and answer.depth == 0:
            # Answered while the command was still being handled, the
            # answer is finished by the command (L{_labelled}).
            self._finish(answer)

    def hold(self) -> None:
        answer = self._answer
        if answer is not None and answer.depth:
            # History for the command being answered: it holds what comes
            # after the answer, which is told first.
            answer.holding = True
        else:
            super().hold()

    def release(self, first: r.Reply | None = None) -> None:
        answer = self._answer
        if answer is None or not answer.depth:
            super().release(first)
            return
        if answer.holding:
            # The command's own history, read at once: part of its answer.
            answer.holding = False
            if first is not None:
                self.tell(first)
            return
        # An earlier command's history: it, and what waited behind it, go
        # first, before this answer.
        held, answer.outer = answer.outer, None
        if first is not None:
            self._send(self.render(first))
        for data in held or ():
            self._send(data)

    # Saying things.

    def reply(self, data: bytes) -> None:
        """
        Say C{data}, an answer: while history is read, after the events
        held meanwhile (an IRC client expects everything in order).
        """
        held = self._held
        if held is not None:
            held.append(data)
        else:
            self._send(data)

    def fail(
        self, verb: str, code: str, *context: str, tags: Mapping[str, str] | None = None
    ) -> None:
        """
        Say C{verb} failed, with C{code} and its C{context} (IRCv3's
        standard replies: C{FAIL VERB CODE [CONTEXT...] :DESCRIPTION}, the
        description last in C{context}).
        """
        self.reply(build("FAIL", verb, code, *context, source=self.server, tags=tags))

    def numeric(self, code: str, *params: str) -> None:
        self.reply(w.numeric(self.server, code, self.me, *params))

    def refused(self, error: ChatError) -> None:
        """
        Say the numeric for a domain error in answer to the command being handled.
        """
        if not isinstance(error, AlreadyInRoom):
            self.reply(w.error_numeric(self.server, self.me, error, self.verb))

    def rekey(self) -> None:
        """
        The client's capabilities or user modes changed: the encoder for its new kind.
        """
        self._encoder = self.kind.encoder(self.caps, "w" in self.umodes)

    def relayed(self, untagged: bytes) -> int:
        """
        The length of the line others get for C{untagged} (a PRIVMSG or a
        NOTICE as sent): the sender's mask in front, a C{:} before the text
        if it had none, CRLF.
        """
        colon = 0 if b" :" in untagged else 1
        return len(untagged) + len(w.mask(self.me)) + 4 + colon

    @property
    def server(self) -> str:
        return self.service.settings.server_name

    @property
    def me(self) -> str:
        user = self.session.user
        if user is not None:
            return user.nickname
        registration = self.registration
        return (registration.nickname if registration is not None else None) or "*"

    def encode(self, event: Event) -> bytes:
        """
        C{event} as this client's kind is sent it (an echo of its own message).
        """
        return self._encoder(event)

    # Replies.

    def tell(self, reply: r.Reply) -> None:
        registration = self.registration
        if registration is not None:
            if registration.told(self.session, self.me, reply):
                return
            if isinstance(reply, r.LoggedIn):
                self.registration = None
                super().tell(reply)
                if registration.operator:
                    super().tell(r.Operator())
                return
        super().tell(reply)

    def render(self, reply: r.Reply) -> bytes:
        context = Context(
            self.server,
            self.me,
            self.verb,
            self.params,
            self.caps,
            self.kind.batch_ref,
            self.kind.verbs.keys(),
            self.service.settings.description,
        )
        return render(context, reply)


def _verb_of(line: bytes) -> str:
    """
    The verb of a raw line (after its tags and source, if any), to name in
    an answer about it; C{*} if it has none, or none made of letters and digits.
    """
    words = line.split()
    if words and words[0].startswith(b"@"):
        words = words[1:]
    if words and words[0].startswith(b":"):
        words = words[1:]
    verb = words[0] if words else b""
    return verb.decode("ascii").upper() if verb.isascii() and verb.isalnum() else "*"
