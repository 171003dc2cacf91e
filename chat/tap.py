"""
What C{twistd chat} runs: its command-line options and the service tree they make.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import socket
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IService, MultiService, Service
from twisted.copyright import version as twisted_version
from twisted.internet.address import UNIXAddress
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import serverFromString
from twisted.internet.error import CannotListenError
from twisted.internet.interfaces import IStreamServerEndpoint
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python import usage
from twisted.python.failure import Failure

from chat import __version__
from chat.core.domain import MemoryChat
from chat.core.limits import DEFAULT_SENDQ, DEFAULT_SENDQ_TOTAL, HUMAN, LOBBY, NONE, Rate
from chat.core.service import ChatService, Settings
from chat.irc.protocol import IRCFactory
from chat.line.protocol import LineFactory
from chat.net import reuseport
from chat.store.accounts import Accounts
from chat.store.bans import Bans
from chat.store.history import History, Pool, open_pool
from chat.store.markers import ReadMarkers
from chat.store.opening import Opening
from chat.store.rooms import Rooms
from chat.store.watch import FileWatch
from chat.web.door import WebDoor
from chat.web.handshake import networks

DEFAULT_LISTEN = "tcp:8888"

GOOD_ENDPOINTS = {
    "--listen": "tcp:8888, tcp:8888:interface=127.0.0.1, unix:/run/chat.sock, "
    "reuseport:8888 or ssl:8443:privateKey=KEY:certKey=CERT",
    "--irc": "tcp:6667, tcp:6667:interface=127.0.0.1 or ssl:6697:privateKey=KEY:certKey=CERT",
    "--web": "tcp:8080, tcp:8080:interface=127.0.0.1 or ssl:8443:privateKey=KEY:certKey=CERT",
}
"""
What a good endpoint looks like, said with a bad one.
"""


def _number(option: str, kind: type[int] | type[float]) -> Callable[[str], float]:
    """
    A coercer for --option's value that names the option when it is not a number.
    """

    def coerce(text: str) -> float:
        try:
            return kind(text)
        except ValueError:
            wanted = "a whole number" if kind is int else "a number"
            raise ValueError(f"--{option} takes {wanted}, not {text!r}") from None

    coerce.coerceDoc = ""  # type: ignore[attr-defined]
    return coerce


DEFAULT_DB = "chat.sqlite3"


class Options(usage.Options):
    """
    Options for C{twistd chat}.
    """

    synopsis = "[--listen ENDPOINT]... [--irc ENDPOINT]... [OPTION]... (all options: --help)"
    longdesc = (
        "A multi-user chat server: connect with `nc HOST 8888`, type a nickname, chat. "
        "See docs/protocol.md for every command and docs/operating.md for these options."
    )
    optParameters: ClassVar[list[list[Any]]] = [
        ["name", None, "chat", "Server name shown in the greeting."],
        ["description", None, "chat", "What the server says it is (IRC's LINKS and WHOIS)."],
        [
            "db",
            None,
            DEFAULT_DB,
            "The SQLite database for history (created if need be); :memory: keeps nothing; "
            "postgresql://USER@HOST:PORT/NAME for a PostgreSQL database (docs/cluster.md).",
        ],
        [
            "cluster",
            None,
            None,
            "redis://HOST:PORT/DB: be one node of a chat of several, through this Redis "
            "(with --db postgresql://..., which they share; docs/cluster.md).",
        ],
        ["node", None, None, "This node's name in the cluster (default: the host's name and pid)."],
        [
            "lease",
            None,
            5,
            "Seconds a node that stops answering stays in the cluster (its users with it).",
            _number("lease", float),
        ],
        [
            "admins",
            None,
            None,
            "Operators' nicknames, comma-separated; each one's password is set with "
            "python -m chat.admin NICK.",
        ],
        ["admins-file", None, None, "A file of operator nicknames, one a line."],
        [
            "history",
            None,
            20,
            "How many recent messages a user sees on entering a room.",
            _number("history", int),
        ],
        [
            "flood",
            None,
            str(HUMAN.lines),
            "Lines a second each connection may send, as RATE/BURST; off switches off every "
            "rate limit (lines, nickname and room changes, wrong passwords), for load tests.",
        ],
        [
            "max-clients",
            None,
            None,
            "Connections at once; 0 for no limit. [default: the open-file limit less 100]",
            _number("max-clients", int),
        ],
        [
            "max-per-ip",
            None,
            16,
            "Connections at once from one address; 0 for no limit.",
            _number("max-per-ip", int),
        ],
        [
            "crowd",
            None,
            100,
            "Rooms of this many users or more announce no joins and leaves, and newcomers get "
            "a count rather than a list of names; 0 for never.",
            _number("crowd", int),
        ],
        [
            "login-timeout",
            None,
            60,
            "Seconds to choose a nickname; 0 for no limit.",
            _number("login-timeout", float),
        ],
        [
            "idle-timeout",
            None,
            0,
            "Seconds a user may stay silent; 0 for no limit.",
            _number("idle-timeout", float),
        ],
        [
            "sendq",
            None,
            DEFAULT_SENDQ,
            "Bytes that may wait for a client that stops reading before it is dropped.",
            _number("sendq", int),
        ],
        [
            "sendq-total",
            None,
            DEFAULT_SENDQ_TOTAL,
            "Bytes that may wait for all such clients together; past it the one written to "
            "is dropped.",
            _number("sendq-total", int),
        ],
        ["motd", None, None, "A UTF-8 text file shown to each user after login."],
        [
            "shutdown-timeout",
            None,
            10,
            "Seconds to wait on shutdown for clients to take their notice before cutting them off.",
            _number("shutdown-timeout", float),
        ],
    ]
    optFlags: ClassVar[list[list[Any]]] = [
        ["log-messages", None, "Log the text of messages too (by default only who did what)."],
        [
            "no-history",
            None,
            "Keep no messages at all (/history and /search say so); accounts and bans still "
            "use --db.",
        ],
    ]

    def __init__(self, reactor: Any = None) -> None:
        """
        @param reactor: for tests; twistd passes none, and the global reactor
            (the one twistd installed) is looked up only when it is needed.
        """
        super().__init__()  # type: ignore[no-untyped-call]
        self._reactor = reactor
        self["listen"] = []
        self["irc"] = []
        self["web"] = []
        self["web-origin"] = []
        self["web-proxy"] = []
        self["motd-lines"] = ()

    def opt_listen(self, endpoint: str) -> None:
        """
        Where to listen, as a Twisted endpoint string (tcp:8888,
        tcp:8888:interface=127.0.0.1, unix:/run/chat.sock, ssl:8443:privateKey=KEY:certKey=CERT),
        or reuseport:8888[:interface=ADDRESS] (a TCP port that the other nodes of a cluster on
        this machine listen on too). Repeat it to listen in several places. [default: tcp:8888]
        """
        self["listen"].append(endpoint)

    def opt_version(self) -> None:
        """
        Show chat's version (and Twisted's), then exit.
        """
        print(f"chat {__version__} (Twisted {twisted_version})")
        raise SystemExit(0)

    def opt_irc(self, endpoint: str) -> None:
        """
        Where to listen for IRC clients, as an endpoint string (tcp:6667,
        ssl:6697:privateKey=KEY:certKey=CERT); repeatable. [default: none]
        """
        self["irc"].append(endpoint)

    def opt_web(self, endpoint: str) -> None:
        """
        Where to serve the web page and its WebSocket (IRC for browsers and
        web IRC clients), as an endpoint string (tcp:8080,
        ssl:8443:privateKey=KEY:certKey=CERT); repeatable. [default: none]
        """
        self["web"].append(endpoint)

    def opt_web_origin(self, origin: str) -> None:
        """
        A site whose pages may open a WebSocket here besides the server's
        own (https://example.org; * for any); repeatable. [default: none]
        """
        self["web-origin"].append(origin.strip())

    def opt_web_proxy(self, address: str) -> None:
        """
        A reverse proxy (an address or a network, 10.0.0.0/8) whose
        X-Forwarded-For header is believed; repeatable.
        [default: none]
        """
        self["web-proxy"].append(address)

    # usage.Options shows a docstring as it is written, indentation included.
    opt_listen.__doc__ = " ".join((opt_listen.__doc__ or "").split())
    opt_irc.__doc__ = " ".join((opt_irc.__doc__ or "").split())
    opt_web.__doc__ = " ".join((opt_web.__doc__ or "").split())
    opt_web_origin.__doc__ = " ".join((opt_web_origin.__doc__ or "").split())
    opt_web_proxy.__doc__ = " ".join((opt_web_proxy.__doc__ or "").split())

    def parseOptions(self, options: Any = None) -> None:
        """
        As usage.Options parses, but an error is said in one line: twistd
        prints this usage above it, which is here a pointer to --help, not
        the whole list again.
        """
        try:
            super().parseOptions(options)  # type: ignore[no-untyped-call]
        except usage.UsageError as e:
            self._failed = True
            message = str(e).removeprefix("Parameter type enforcement failed: ")
            raise usage.UsageError(message) from None

    def getUsage(self, width: int | None = None) -> str:
        if getattr(self, "_failed", False):
            return "See twistd chat --help for every option.\n"
        return str(super().getUsage(width))

    def _check_cluster(self) -> None:
        """
        A cluster needs its nodes to share a PostgreSQL database, a Redis
        address that reads, txredisapi and orjson (the C{cluster} extra), and
        a node name that fits in its keys.
        """
        if not self["db"].startswith(("postgresql://", "postgres://")):
            raise usage.UsageError(
                "--cluster needs --db postgresql://...: the nodes share their database"
            )
        try:
            import chat.cluster.jsontext  # noqa: F401 (orjson: the log's JSON)
            from chat.cluster.redis import Address
        except ImportError as e:
            raise usage.UsageError(
                f"--cluster needs {e.name or 'txredisapi'}: pip install 'chat[cluster]'"
            ) from None
        try:
            self["cluster-address"] = Address.parse(self["cluster"])
        except ValueError as e:
            raise usage.UsageError(f"--cluster: {e}") from None
        if self["node"] is None:
            self["node"] = f"{socket.gethostname()}.{os.getpid()}"
        if not re.fullmatch(r"[A-Za-z0-9._-]{1,64}", self["node"]):
            raise usage.UsageError(
                "--node: letters, digits, dots, dashes and underscores, at most 64"
            )
        if self["lease"] < 0.5:
            raise usage.UsageError("--lease must be at least 0.5 seconds")

    def postOptions(self) -> None:
        if not self["listen"]:
            self["listen"] = [DEFAULT_LISTEN]
        if self["shutdown-timeout"] < 0:
            raise usage.UsageError("--shutdown-timeout must not be negative")
        try:
            lines = Rate.parse(self["flood"])
        except ValueError as e:
            raise usage.UsageError(f"--flood: {e}") from e
        self["limits"] = NONE if lines is None else replace(HUMAN, lines=lines)
        if self["max-clients"] is None:
            self["max-clients"] = default_max_clients()
        for name in ("max-clients", "max-per-ip", "crowd", "login-timeout", "idle-timeout"):
            if self[name] < 0:
                raise usage.UsageError(f"--{name} must not be negative")
        if self["sendq"] < 1024:
            raise usage.UsageError("--sendq must be at least 1024 bytes")
        if self["sendq-total"] < self["sendq"]:
            raise usage.UsageError("--sendq-total must be at least --sendq")
        if self["history"] < 0:
            raise usage.UsageError("--history must not be negative")
        if self["db"].startswith(("postgresql://", "postgres://")):
            try:
                import psycopg  # noqa: F401
            except ImportError:
                raise usage.UsageError(
                    "--db postgresql://... needs psycopg: pip install 'chat[postgresql]'"
                ) from None
        elif self["db"] != ":memory:":
            folder = os.path.dirname(os.path.abspath(self["db"]))
            if not os.path.isdir(folder):
                raise usage.UsageError(f"--db: no such directory: {folder}")
        if self["cluster"] is not None:
            self._check_cluster()
        self["admin-names"] = read_admins(self["admins"], self["admins-file"])
        if self["motd"] is not None:
            self["motd-lines"] = read_motd(self["motd"])
        reactor = self._reactor
        if reactor is None:
            from twisted.internet import reactor
        self["reactor"] = reactor
        try:
            self["web-proxies"] = networks(self["web-proxy"])
        except ValueError as e:
            raise usage.UsageError(f"--web-proxy: {e}") from e
        for option in ("listen", "irc", "web"):
            for description in self[option]:
                self._endpoint(reactor, "--" + option, description)

    @staticmethod
    def _endpoint(reactor: Any, option: str, description: str) -> None:
        """
        Parsed here, where twistd reports a UsageError as one line; raised
        from makeService it would be a traceback.
        """
        try:
            server_endpoint(reactor, description)
        except (ValueError, KeyError, TypeError) as e:
            raise usage.UsageError(
                f"bad {option} endpoint {description!r} ({e}); "
                f"good ones look like {GOOD_ENDPOINTS[option]}"
            ) from e


def server_endpoint(reactor: Any, description: str) -> IStreamServerEndpoint:
    """
    The endpoint C{description} names: Twisted's, or C{reuseport:} (a port
    shared by several nodes on one machine, L{chat.net.reuseport}).
    """
    if description.startswith(reuseport.PREFIX):
        return reuseport.parse(reactor, description)
    endpoint: IStreamServerEndpoint = serverFromString(reactor, description)
    return endpoint


def default_max_clients() -> int:
    """
    The open-file limit less 100 descriptors for the database, logs and the
    listening ports: past it the server refuses a connection politely instead
    of failing to accept it.
    """
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return 0
    return max(10, soft - 100)


def read_admins(names: str | None, path: str | None) -> tuple[str, ...]:
    """
    The operators' nicknames: those of --admins, then those of the --admins-file.
    """
    admins = [name.strip() for name in (names or "").split(",") if name.strip()]
    if path is not None:
        try:
            with open(path, encoding="utf-8") as lines:
                admins += [name.strip() for name in lines if name.strip()]
        except OSError as e:
            raise usage.UsageError(f"cannot read --admins-file: {e.strerror}") from e
    return tuple(admins)


def read_motd(path: str) -> tuple[str, ...]:
    """
    Read the message of the day once, at start-up, so that a missing file is
    an operator's error now rather than a blocking read at every login.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as motd:
            text = motd.read()
    except OSError as e:
        raise usage.UsageError(f"cannot read --motd file {path!r}: {e.strerror}") from e
    return tuple(text.splitlines())


def settings(options: dict[str, Any]) -> Settings:
    """
    The server's settings, from parsed options.
    """
    return Settings(
        server_name=options["name"],
        description=options["description"],
        motd=options["motd-lines"],
        history_lines=options["history"],
        sendq=options["sendq"],
        sendq_total=options["sendq-total"],
        max_clients=options["max-clients"],
        max_per_host=options["max-per-ip"],
        login_timeout=options["login-timeout"],
        idle_timeout=options["idle-timeout"],
        limits=options["limits"],
        admins=options["admin-names"],
        log_messages=bool(options["log-messages"]),
        shutdown_timeout=options["shutdown-timeout"],
        crowd=options["crowd"],
    )


def _pool(db: str, reactor: Any) -> Pool:
    """
    A connection to the database C{db} (the C{--db} option) in a thread of
    its own: PostgreSQL's only imported when it is asked for.
    """
    if db.startswith(("postgresql://", "postgres://")):
        from chat.store.pg import PostgresPool

        return PostgresPool(db, reactor)
    return open_pool(db, reactor)


def makeService(options: dict[str, Any]) -> IService:
    """
    The chat service and one listener per C{--listen}, C{--irc} and C{--web} endpoint.
    """
    reactor = options["reactor"]
    top = MultiService()
    db = options["db"]
    postgresql = db.startswith(("postgresql://", "postgres://"))
    pool = _pool(db, reactor)
    # Closed by the history service when there is one; in any case once the
    # services have stopped (what they wrote last is written first).
    reactor.addSystemEventTrigger("after", "shutdown", pool.close)
    bans = Bans(pool, reactor)
    configured = settings(options)
    node = None
    rooms: Any
    if options["cluster"] is not None:
        # One node of several: its chat is a replica of theirs (docs/cluster.md).
        from chat.cluster.chat import ClusterChat
        from chat.cluster.log import Log, Settings
        from chat.cluster.node import Node

        rooms = ClusterChat(
            options["node"],
            permanent_rooms=(LOBBY,),
            crowd=configured.crowd,
            clock=reactor.seconds,
            store=Rooms(pool),
        )
        journal = Log(
            reactor,
            options["cluster-address"],
            options["node"],
            rooms.apply,
            rooms.fenced,
            rooms.gap,
            Settings(lease=options["lease"]),
        )
        node = Node(rooms, journal, reactor)
    else:
        rooms = MemoryChat(
            permanent_rooms=(LOBBY,),
            crowd=configured.crowd,
            clock=reactor.seconds,
            store=Rooms(pool),
        )
    if postgresql:
        # As below, but PostgreSQL is shared by the servers using it: none locks it.
        from chat.store import pg

        opening = Opening(db, reactor, bans, rooms.restore, checking=pg.check, locking=False)
        opening.setServiceParent(top)  # type: ignore[no-untyped-call]
    elif db != ":memory:":
        # First, so that it runs before anything listens: a database the
        # server cannot use, or another server's, ends twistd there, with one
        # line; and the bans hold, and the kept rooms are back, from the
        # first connection.
        opening = Opening(db, reactor, bans, rooms.restore)
        opening.setServiceParent(top)  # type: ignore[no-untyped-call]
    # Added before the chat service so that it stops after it (a MultiService
    # stops its children in reverse): the last messages are written, then the
    # database closes.
    history = None
    if not options["no-history"]:
        # Reads on a connection of their own, so that writes never wait behind
        # a search (WAL lets one connection read while another writes), and
        # searches on another, so that a room's history never waits behind
        # them; an in-memory database is one connection's alone.
        memory = db == ":memory:"
        reader = pool if memory else _pool(db, reactor)
        reactor.addSystemEventTrigger("after", "shutdown", reader.close)
        searcher = pool if memory else _pool(db, reactor)
        reactor.addSystemEventTrigger("after", "shutdown", searcher.close)
        history = History(pool, reactor, reader=reader, searcher=searcher)
        if node is not None:
            from chat.cluster.archive import Archive

            # Each message is kept once, by whichever node the archive hands
            # it to (docs/cluster.md); reads wait until what this node has
            # delivered is kept.
            archive = Archive(
                reactor,
                options["cluster-address"],
                options["node"],
                history.keep_now,
                rooms,
                claim_after=options["lease"],
            )
            node.archive = archive
            history.placing = archive.place_now
            history.waits_for = archive.caught_up
        history.setServiceParent(top)  # type: ignore[no-untyped-call]
    bans.setServiceParent(top)  # type: ignore[no-untyped-call]
    if not postgresql and db != ":memory:":
        FileWatch(pool, reactor).setServiceParent(top)  # type: ignore[no-untyped-call]

    def hash_in_thread(function: Callable[..., Any], *args: Any) -> Deferred[Any]:
        # Password hashing is slow on purpose: it runs in the reactor's thread pool.
        return deferToThreadPool(reactor, reactor.getThreadPool(), function, *args)

    accounts = Accounts(pool, reactor, hash_in_thread)
    banned: Any = bans
    shared = None
    if node is not None:
        from chat.cluster.bans import ClusterBans
        from chat.cluster.limits import SharedLimits

        # Set or lifted on this node, told to the others.
        banned = ClusterBans(bans, rooms)
        # Wrong passwords, registrations and connections per address,
        # counted on every node together.
        shared = SharedLimits(node.journal, reactor)
        # Before the chat's service: it leaves the cluster after the users are gone.
        node.setServiceParent(top)  # type: ignore[no-untyped-call]
    chat = ChatService(
        reactor,
        rooms,
        configured,
        history=history,
        accounts=accounts,
        bans=banned,
        markers=ReadMarkers(pool),
        shared=shared,
    )
    chat.setServiceParent(top)  # type: ignore[no-untyped-call]
    if node is not None:
        # One read of the log is one burst of output, as one read of a
        # client's input is: each connection written once for all of it.
        outbox, apply = chat.outbox, rooms.apply
        node.journal.deliver = lambda entries: outbox.batch(lambda: apply(entries))
    Reloader(chat, options).setServiceParent(top)  # type: ignore[no-untyped-call]
    line, irc = LineFactory(chat), IRCFactory(chat)
    doors: list[tuple[list[str], Any]] = [(options["listen"], line), (options["irc"], irc)]
    if options["web"]:
        # Its WebSockets are IRC connections: they share the IRC door's
        # verbs, encoders and PING rounds.
        web = WebDoor(chat, irc, options["web-origin"], options["web-proxies"])
        doors.append((options["web"], web))
    for descriptions, factory in doors:
        for description in descriptions:
            listener = Listener(description, server_endpoint(reactor, description), factory)
            listener.setServiceParent(top)  # type: ignore[no-untyped-call]
    return top


class Reloader(Service):
    """
    SIGHUP, as daemons take it: read the MOTD and the admins file again, and
    say so in the log. (Without a handler, SIGHUP would kill the server
    without a goodbye or a log line. Twisted's own logs are reopened on
    SIGUSR1, by twistd.)
    """

    log = Logger()

    def __init__(self, chat: ChatService, options: dict[str, Any]) -> None:
        self.chat = chat
        self.options = options
        self._previous: Any = None
        self._installed = False

    def privilegedStartService(self) -> None:
        # twistd's listeners listen in their privilegedStartService, before
        # any startService: the handler must be there before a client (or a
        # test) can know the port and send SIGHUP, or SIGHUP kills the server.
        super().privilegedStartService()  # type: ignore[no-untyped-call]
        self._install()

    def startService(self) -> None:
        super().startService()  # type: ignore[no-untyped-call]
        self._install()

    def _install(self) -> None:
        if self._installed:
            return
        self._installed = True
        reactor = self.options["reactor"]
        # A signal handler may run between any two bytecodes: it only asks
        # the reactor to reload, from its own loop.
        self._previous = signal.signal(
            signal.SIGHUP, lambda *_: reactor.callFromThread(self.reload)
        )

    def stopService(self) -> None:
        if self._installed:
            signal.signal(signal.SIGHUP, self._previous)
            self._previous, self._installed = None, False
        super().stopService()  # type: ignore[no-untyped-call]

    def reload(self) -> Deferred[None]:
        """
        Read the files in a thread (never on the reactor's), then use them;
        one that cannot be read leaves everything as it was.
        """
        options = self.options
        reactor = options["reactor"]

        def read() -> tuple[tuple[str, ...], tuple[str, ...]]:
            motd = read_motd(options["motd"]) if options["motd"] is not None else ()
            return motd, read_admins(options["admins"], options["admins-file"])

        def use(files: tuple[tuple[str, ...], tuple[str, ...]]) -> None:
            motd, admins = files
            self.chat.reconfigure(motd=motd, admins=admins)
            self.log.info(
                "SIGHUP: reloaded the MOTD ({lines} lines) and the admins ({count})",
                lines=len(motd),
                count=len(admins),
            )

        def failed(failure: Failure) -> None:
            self.log.error("SIGHUP: nothing reloaded: {why}", why=failure.getErrorMessage())

        return deferToThreadPool(reactor, reactor.getThreadPool(), read).addCallbacks(use, failed)


class Listener(StreamServerEndpointService):
    """
    Listens on one endpoint from the moment twistd starts. One that cannot
    (a port in use, no permission) ends twistd at start-up with one line
    that says which and why, not a log line from a server listening nowhere
    nor a forty-line traceback; one that can, says where to connect.
    """

    log = Logger()

    def __init__(self, description: str, endpoint: IStreamServerEndpoint, factory: Any) -> None:
        super().__init__(endpoint, factory)  # type: ignore[no-untyped-call]
        self.description = description
        self._raiseSynchronously = True

    def privilegedStartService(self) -> None:
        try:
            super().privilegedStartService()  # type: ignore[no-untyped-call]
        except CannotListenError as e:
            why = getattr(e.socketError, "strerror", None) or str(e.socketError)
            raise SystemExit(f"chat: cannot listen on {self.description}: {why}") from None
        # Listening: say where to connect (with the port, if the endpoint chose it).
        listening = self._waitingForPort
        assert listening is not None
        listening.addCallback(self._listening)

    def _listening(self, port: Any) -> Any:
        tls = self.description.startswith(("ssl:", "tls:"))
        if isinstance(self.factory, WebDoor):
            self.log.info(
                "Web door on {description}: open {how} in a browser",
                description=self.description,
                how=web_address(port.getHost(), tls),
            )
            return port
        irc = isinstance(self.factory, IRCFactory)
        self.log.info(
            "{door} on {description}: connect {how}",
            door="IRC" if irc else "Line protocol",
            description=self.description,
            how=how_to_connect(irc, port.getHost(), tls),
        )
        return port


def web_address(address: Any, tls: bool) -> str:
    """
    The page's address for someone on this machine, for a web listener at C{address}.
    """
    if isinstance(address, UNIXAddress):
        name = address.name.decode() if isinstance(address.name, bytes) else address.name
        return f"the page through a proxy to the socket {name}"
    host = "localhost" if address.host in ("0.0.0.0", "::", "") else address.host
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if tls else 'http'}://{host}:{address.port}/"


def how_to_connect(irc: bool, address: Any, tls: bool) -> str:
    """
    How someone on this machine connects to a listener at C{address} (IRC's
    or the line protocol's, over C{tls} or not).
    """
    if isinstance(address, UNIXAddress):
        name = address.name.decode() if isinstance(address.name, bytes) else address.name
        return f"an IRC client to the socket {name}" if irc else f"with nc -U {name}"
    host = "localhost" if address.host in ("0.0.0.0", "::", "") else address.host
    if irc:
        return f"an IRC client to {host} port {address.port}" + (", with TLS" if tls else "")
    client = f"[{host}]:{address.port}" if ":" in host else f"{host}:{address.port}"
    if tls:
        return f"with chat-client --tls {client}"
    return f"with nc {host} {address.port} or chat-client {client}"
