"""
Tests for L{chat.tap} and the twistd dropin: options, the service tree, plugin discovery.
"""

import ipaddress
import os
import re
import subprocess
import sys
import sysconfig
from dataclasses import replace
from pathlib import Path

from twisted.application.internet import StreamServerEndpointService
from twisted.application.service import IServiceMaker
from twisted.copyright import version as twisted_version
from twisted.internet.testing import MemoryReactorClock
from twisted.plugin import getPlugins
from twisted.python.usage import UsageError
from twisted.trial.unittest import SynchronousTestCase, TestCase
from zope.interface.verify import verifyObject

from chat import __version__
from chat.core.events import BanKind, KeptRoom
from chat.core.limits import HUMAN, NONE, Rate
from chat.core.service import ChatService, Settings
from chat.irc.protocol import IRCFactory
from chat.line.protocol import LineFactory
from chat.store import database, rooms
from chat.store.bans import Bans
from chat.store.history import History
from chat.tap import Options, Reloader, default_max_clients, makeService, settings
from chat.web.door import WebDoor

ROOT = Path(__file__).resolve().parent.parent


class OptionsTests(SynchronousTestCase):
    def parse(self, *argv: str) -> Options:
        self.reactor = MemoryReactorClock()
        options = Options(self.reactor)
        options.parseOptions(list(argv))
        return options

    def test_defaults(self) -> None:
        """
        With no arguments: listen on tcp:8888, named "chat", no MOTD, no message logging.
        """
        self.assertEqual(
            dict(self.parse()),
            {
                "listen": ["tcp:8888"],
                "irc": [],
                "web": [],
                "web-origin": [],
                "web-proxy": [],
                "web-proxies": (),
                "name": "chat",
                "description": "chat",
                "db": "chat.sqlite3",
                "cluster": None,
                "node": None,
                "lease": 5,
                "history": 20,
                "sendq": 262144,
                "sendq-total": 256 * 1024 * 1024,
                "max-clients": default_max_clients(),
                "max-per-ip": 16,
                "crowd": 100,
                "login-timeout": 60.0,
                "idle-timeout": 0.0,
                "flood": "5/20",
                "limits": HUMAN,
                "admins": None,
                "admins-file": None,
                "admin-names": (),
                "motd": None,
                "motd-lines": (),
                "log-messages": 0,
                "no-history": 0,
                "shutdown-timeout": 10.0,
                "reactor": self.reactor,
            },
        )

    def test_everything(self) -> None:
        """
        --listen, --irc and --web repeat; the MOTD file is read at start-up.
        """
        motd = self.mktemp()
        Path(motd).write_text("Hello!\nBe kind.\n", encoding="utf-8")
        admins = self.mktemp()
        Path(admins).write_text("\ncarol\n", encoding="utf-8")
        options = self.parse(
            "--listen", "tcp:1234", "--listen", "unix:/tmp/x.sock", "--name", "Lab",
            "--description", "The lab's chat",
            "--motd", motd, "--log-messages", "--shutdown-timeout", "2.5",
            "--db", ":memory:", "--history", "0", "--sendq", "4096", "--sendq-total", "65536",
            "--max-clients", "50", "--max-per-ip", "0", "--login-timeout", "5",
            "--idle-timeout", "600", "--flood", "off", "--admins", "alice, Bob",
            "--admins-file", admins, "--crowd", "7", "--irc", "tcp:6667", "--irc", "tcp:6668",
            "--web", "tcp:8080", "--web-origin", "*", "--web-proxy", "::1",
        )  # fmt: skip
        self.assertEqual(
            dict(options),
            {
                "listen": ["tcp:1234", "unix:/tmp/x.sock"],
                "irc": ["tcp:6667", "tcp:6668"],
                "web": ["tcp:8080"],
                "web-origin": ["*"],
                "web-proxy": ["::1"],
                "web-proxies": (ipaddress.ip_network("::1"),),
                "name": "Lab",
                "description": "The lab's chat",
                "db": ":memory:",
                "cluster": None,
                "node": None,
                "lease": 5,
                "history": 0,
                "sendq": 4096,
                "sendq-total": 65536,
                "max-clients": 50,
                "max-per-ip": 0,
                "crowd": 7,
                "login-timeout": 5.0,
                "idle-timeout": 600.0,
                "flood": "off",
                "limits": NONE,
                "admins": "alice, Bob",
                "admins-file": admins,
                "admin-names": ("alice", "Bob", "carol"),
                "motd": motd,
                "motd-lines": ("Hello!", "Be kind."),
                "log-messages": 1,
                "no-history": 0,
                "shutdown-timeout": 2.5,
                "reactor": self.reactor,
            },
        )

    def test_cluster_options(self) -> None:
        """
        --cluster takes a Redis address and a PostgreSQL database the nodes
        share, and a node name that fits in its keys; each refusal says why.
        """
        db = "postgresql://postgres@127.0.0.1:5432/chat"
        options = self.parse("--db", db, "--cluster", "redis://10.0.0.5:6380/2", "--node", "n-1")
        self.assertEqual(str(options["cluster-address"]), "redis://10.0.0.5:6380/2")
        self.assertEqual((options["node"], options["lease"]), ("n-1", 5))
        self.assertRegex(self.parse("--db", db, "--cluster", "redis://r")["node"], r".+\.\d+$")
        for argv, message in [
            (("--cluster", "redis://r"), "--cluster needs --db postgresql://"),
            (("--db", db, "--cluster", "http://r"), "--cluster: not a redis://HOST:PORT/DB"),
            (("--db", db, "--cluster", "redis://r/x"), "is not a number"),
            (("--db", db, "--cluster", "redis://r", "--node", "a b"), "--node: letters"),
            (("--db", db, "--cluster", "redis://r", "--lease", "0.1"), "--lease must be"),
        ]:
            with self.assertRaises(UsageError) as caught:
                self.parse(*argv)
            self.assertIn(message, str(caught.exception))

    def test_cluster_extra_missing(self) -> None:
        """
        --cluster without the C{cluster} extra's packages (here orjson) is a
        usage error naming the one missing and how to install it.
        """
        script = (
            "import sys\n"
            "sys.modules['orjson'] = None\n"
            "from twisted.internet.testing import MemoryReactorClock\n"
            "from twisted.python.usage import UsageError\n"
            "from chat.tap import Options\n"
            "try:\n"
            "    Options(MemoryReactorClock()).parseOptions(\n"
            "        ['--db', 'postgresql://u@h/d', '--cluster', 'redis://r'])\n"
            "except UsageError as e:\n"
            "    print(e)\n"
        )
        self.assertEqual(printed(script), "--cluster needs orjson: pip install 'chat[cluster]'")

    def test_single_node_imports_no_redis(self) -> None:
        """
        Without --cluster, nothing of Redis is imported (nor of PostgreSQL,
        nor orjson, without --db postgresql://...): the default needs
        nothing installed.
        """
        script = (
            "import sys\n"
            "from twisted.internet.testing import MemoryReactorClock\n"
            "from chat.tap import Options, makeService\n"
            "options = Options(MemoryReactorClock())\n"
            "options.parseOptions(['--db', ':memory:'])\n"
            "makeService(options)\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in "
            "('txredisapi', 'psycopg', 'orjson') or m.startswith('chat.cluster')))\n"
        )
        self.assertEqual(printed(script), "[]")

    def test_missing_motd(self) -> None:
        """
        An unreadable MOTD file is a usage error at start-up, naming the file.
        """
        with self.assertRaises(UsageError) as caught:
            self.parse("--motd", "/nonexistent/motd.txt")
        self.assertIn("/nonexistent/motd.txt", str(caught.exception))

    def test_bad_endpoint(self) -> None:
        """
        A malformed endpoint string is a usage error that quotes it.
        """
        with self.assertRaises(UsageError) as caught:
            self.parse("--listen", "tcp:8888", "--listen", "carrier-pigeon:1")
        self.assertIn("carrier-pigeon:1", str(caught.exception))
        with self.assertRaises(UsageError) as caught:
            self.parse("--irc", "tcp:6667", "--irc", "tcp:notaport")
        self.assertIn("bad --irc endpoint 'tcp:notaport'", str(caught.exception))

    def test_irc_listeners(self) -> None:
        """
        Each --irc endpoint gets an IRC listener on the same chat service as
        the line listeners.
        """
        options = Options(MemoryReactorClock())
        options.parseOptions(["--db", ":memory:", "--irc", "tcp:0", "--irc", "tcp:1"])
        _, _, chat, _, line, *irc = list(makeService(options))  # type: ignore[call-overload]
        self.assertIsInstance(line.factory, LineFactory)
        self.assertEqual([type(listener.factory) for listener in irc], [IRCFactory, IRCFactory])
        self.assertEqual({listener.factory.service for listener in [line, *irc]}, {chat})

    def test_web_listeners(self) -> None:
        """
        Each --web endpoint gets a listener of one web door, whose
        WebSockets share the IRC door's factory (its verbs, encoders and
        PING rounds); --web-origin and --web-proxy reach it.
        """
        options = Options(MemoryReactorClock())
        options.parseOptions(
            [
                "--db", ":memory:", "--irc", "tcp:0", "--web", "tcp:0", "--web", "tcp:1",
                "--web-origin", "https://friends.example", "--web-proxy", "10.0.0.0/8",
            ]
        )  # fmt: skip
        _, _, chat, _, _, irc, *web = list(makeService(options))  # type: ignore[call-overload]
        self.assertEqual([type(listener.factory) for listener in web], [WebDoor, WebDoor])
        door = web[0].factory
        self.assertIs(web[1].factory, door)
        self.assertIs(door.irc, irc.factory)
        self.assertIs(door.service, chat)
        self.assertEqual(door.origins, ("https://friends.example",))
        self.assertEqual([str(n) for n in door.proxies], ["10.0.0.0/8"])
        with self.assertRaises(UsageError) as caught:
            self.parse("--web-proxy", "proxy.example")
        self.assertIn("--web-proxy: ", str(caught.exception))
        with self.assertRaises(UsageError) as caught:
            self.parse("--web", "tcp:notaport")
        self.assertIn("bad --web endpoint 'tcp:notaport'", str(caught.exception))

    def test_no_web_by_default(self) -> None:
        options = Options(MemoryReactorClock())
        options.parseOptions(["--db", ":memory:"])
        services = list(makeService(options))  # type: ignore[call-overload]
        self.assertFalse([s for s in services if isinstance(getattr(s, "factory", None), WebDoor)])

    def test_global_reactor_by_default(self) -> None:
        """
        Under twistd (no reactor given), the installed global reactor is used.
        """
        from twisted.internet import reactor

        options = Options()
        options.parseOptions([])
        self.assertIs(options["reactor"], reactor)

    def test_missing_admins_file(self) -> None:
        """
        An unreadable admins file is a usage error.
        """
        self.assertRaises(UsageError, self.parse, "--admins-file", "/nonexistent/admins")

    def test_negative_timeout(self) -> None:
        """
        A negative shutdown timeout is refused.
        """
        self.assertRaises(UsageError, self.parse, "--shutdown-timeout", "-1")

    def test_negative_limits(self) -> None:
        """
        Negative limits and timeouts are refused, each by name.
        """
        for name in ("max-clients", "max-per-ip", "crowd", "login-timeout", "idle-timeout"):
            with self.assertRaises(UsageError) as caught:
                self.parse(f"--{name}", "-1")
            self.assertIn(name, str(caught.exception))

    def test_default_max_clients(self) -> None:
        """
        By default the server refuses connections 100 descriptors before the
        open-file limit, or has no limit where the open-file limit has none.
        """
        import resource

        self.patch(resource, "getrlimit", lambda which: (20000, 40000))
        self.assertEqual(default_max_clients(), 19900)
        self.patch(resource, "getrlimit", lambda which: (50, 50))
        self.assertEqual(default_max_clients(), 10)
        self.patch(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY,) * 2)
        self.assertEqual(default_max_clients(), 0)

    def test_flood(self) -> None:
        """
        --flood sets the line limit and keeps the others; a bad value is a usage error.
        """
        self.assertEqual(self.parse("--flood", "2/8")["limits"], replace(HUMAN, lines=Rate(2, 8)))
        for bad in ("fast", "5", "0/5", "5/0", "x/y"):
            with self.assertRaises(UsageError) as caught:
                self.parse("--flood", bad)
            self.assertIn("--flood", str(caught.exception))

    def test_tiny_sendq(self) -> None:
        """
        A send queue smaller than 1 KiB is refused.
        """
        self.assertRaises(UsageError, self.parse, "--sendq", "1000")

    def test_negative_history(self) -> None:
        """
        A negative number of history lines is refused.
        """
        self.assertRaises(UsageError, self.parse, "--history", "-1")

    def test_help(self) -> None:
        """
        --help: the usage line shows that there are more options than it
        names; no empty or 0.0 default; each help text reads as one sentence,
        without the gaps of its source's indentation.
        """
        text = Options().getSynopsis() + "\n" + Options().getUsage(width=100)
        self.assertIn(
            "[--listen ENDPOINT]... [--irc ENDPOINT]... [OPTION]... (all options: --help)", text
        )
        self.assertNotIn("[default: ]", text)
        self.assertNotIn(".0]", text)
        # The help column starts at 27; two spaces inside it are the gaps of
        # an indented docstring.
        column = [line[27:] for line in text.splitlines() if line.startswith("      ")]
        self.assertGreater(len(column), 30)
        for line in column:
            self.assertNotIn("  ", line)

    def test_errors_name_the_option_in_one_line(self) -> None:
        """
        A value that is not a number names its option; after any error, the
        usage twistd prints above it is one line pointing to --help.
        """
        for argv, message in [
            (("--history", "x"), "--history takes a whole number, not 'x'"),
            (("--idle-timeout", "soon"), "--idle-timeout takes a number, not 'soon'"),
            (("--bogus",), "option --bogus not recognized"),
        ]:
            options = Options(MemoryReactorClock())
            with self.assertRaises(UsageError) as caught:
                options.parseOptions(list(argv))
            self.assertEqual(str(caught.exception), message)
            self.assertEqual(options.getUsage(), "See twistd chat --help for every option.\n")

    def test_db_in_missing_directory(self) -> None:
        """
        A database path in a directory that does not exist is refused at once.
        """
        with self.assertRaises(UsageError) as caught:
            self.parse("--db", "/nonexistent/dir/chat.sqlite3")
        self.assertIn("/nonexistent/dir", str(caught.exception))


class MakeServiceTests(SynchronousTestCase):
    def test_tree(self) -> None:
        """
        The history, then the chat service using it, its reloader (SIGHUP),
        then one listener per endpoint, all sharing one factory.
        """
        options = Options(MemoryReactorClock())
        options.parseOptions(
            ["--listen", "tcp:0", "--listen", "tcp:1", "--name", "Lab", "--db", ":memory:"]
        )
        top = makeService(options)
        history, bans, chat, reloader, *listeners = list(top)  # type: ignore[call-overload]
        self.assertIsInstance(reloader, Reloader)
        self.assertIs(reloader.chat, chat)
        self.assertIsInstance(history, History)
        self.assertIsInstance(bans, Bans)
        self.assertIs(chat.bans, bans)
        self.assertIsInstance(chat, ChatService)
        self.assertIs(chat.history, history)
        self.assertEqual(chat.settings, settings(options))
        self.assertEqual(chat.settings.server_name, "Lab")
        self.assertIs(chat.clock, options["reactor"])
        self.assertEqual(len(listeners), 2)
        for listener in listeners:
            self.assertIsInstance(listener, StreamServerEndpointService)
            self.assertIs(listener.factory.service, chat)

    def test_sighup_handled_before_anything_listens(self) -> None:
        """
        twistd's listeners listen in privilegedStartService, before any
        startService: the SIGHUP handler is installed there too, before
        them, so that nobody can send SIGHUP to a listening server that
        would die of it; stopping puts the old handler back.
        """
        import signal

        options = Options(MemoryReactorClock())
        options.parseOptions(["--listen", "tcp:0", "--db", ":memory:"])
        top = makeService(options)
        before = signal.getsignal(signal.SIGHUP)
        installed = []

        def listening(*_: object) -> None:
            installed.append(signal.getsignal(signal.SIGHUP) is not before)

        [listener] = [s for s in top if isinstance(s, StreamServerEndpointService)]  # type: ignore[attr-defined]
        self.patch(listener, "privilegedStartService", listening)
        top.privilegedStartService()
        self.assertEqual(installed, [True])
        [reloader] = [s for s in top if isinstance(s, Reloader)]  # type: ignore[attr-defined]
        reloader.stopService()
        self.assertIs(signal.getsignal(signal.SIGHUP), before)

    def test_bans_loaded_before_anything_listens(self) -> None:
        """
        The bans stored in the database are in memory before the first
        listener listens (a banned address is refused from the first
        connection), and are not loaded a second time as the services start.
        """
        path = self.mktemp()
        db = database.connect(path)
        with db:
            database.save_ban(db.cursor(), ("ip", "192.0.2.1", None, "spam", "root", 0.0))
        db.close()
        reactor = MemoryReactorClock()
        options = Options(reactor)
        options.parseOptions(["--listen", "tcp:0", "--db", path])
        top = makeService(options)
        self.addCleanup(shut_down, reactor)
        [chat] = [s for s in top if isinstance(s, ChatService)]  # type: ignore[attr-defined]
        [listener] = [s for s in top if isinstance(s, StreamServerEndpointService)]  # type: ignore[attr-defined]
        bans = chat.bans
        assert isinstance(bans, Bans)
        seen = []
        self.patch(
            listener,
            "privilegedStartService",
            lambda: seen.append(bans.find(BanKind.ADDRESS, "192.0.2.1")),
        )
        top.privilegedStartService()
        [ban] = seen
        self.assertIsNotNone(ban)
        assert ban is not None
        self.assertEqual((ban.by, ban.reason), ("root", "spam"))
        self.patch(bans.pool, "runInteraction", lambda *_: self.fail("loaded again"))
        bans.startService()

    def test_kept_rooms_back_before_anything_listens(self) -> None:
        """
        The rooms kept in the database, the lobby among them, are back in
        the chat, with their topics and creation times, before the first
        listener listens: nobody can make one of them anew, or find the
        lobby without its topic.
        """
        path = self.mktemp()
        db = database.connect(path)
        with db:
            database.save_room(db.cursor(), rooms.row(KeptRoom("games", "alice", 1.0, "chess")))
            database.save_room(db.cursor(), rooms.row(KeptRoom("lobby", None, 2.0, "welcome")))
        db.close()
        reactor = MemoryReactorClock()
        options = Options(reactor)
        options.parseOptions(["--listen", "tcp:0", "--db", path])
        top = makeService(options)
        self.addCleanup(shut_down, reactor)
        [chat] = [s for s in top if isinstance(s, ChatService)]  # type: ignore[attr-defined]
        [listener] = [s for s in top if isinstance(s, StreamServerEndpointService)]  # type: ignore[attr-defined]
        seen: list[tuple[str, str | None, float]] = []

        def listening() -> None:
            seen.extend(
                (r.name, r.topic, r.created) for r in map(chat.chat.room, ["games", "lobby"])
            )

        self.patch(listener, "privilegedStartService", listening)
        top.privilegedStartService()
        self.assertEqual(seen, [("games", "chess", 1.0), ("lobby", "welcome", 2.0)])

    def test_settings(self) -> None:
        """
        Every option that shapes the chat lands in its one settings value.
        """
        motd = self.mktemp()
        Path(motd).write_text("Be nice.\nHave fun.\n", "utf-8")
        options = Options(MemoryReactorClock())
        options.parseOptions(
            [
                "--name", "Lab", "--description", "The lab's chat",
                "--motd", motd, "--history", "7", "--sendq", "4096",
                "--max-clients", "50", "--max-per-ip", "5", "--login-timeout", "30",
                "--idle-timeout", "600", "--flood", "2/8", "--admins", "root, ops",
                "--log-messages", "--shutdown-timeout", "3", "--crowd", "40",
            ]
        )  # fmt: skip
        self.assertEqual(
            settings(options),
            Settings(
                server_name="Lab",
                description="The lab's chat",
                motd=("Be nice.", "Have fun."),
                history_lines=7,
                sendq=4096,
                max_clients=50,
                max_per_host=5,
                login_timeout=30.0,
                idle_timeout=600.0,
                limits=replace(HUMAN, lines=Rate(2, 8)),
                admins=("root", "ops"),
                log_messages=True,
                shutdown_timeout=3.0,
                crowd=40,
            ),
        )

    def test_no_history(self) -> None:
        """
        With --no-history the chat service keeps no messages (accounts and bans still work).
        """
        options = Options(MemoryReactorClock())
        options.parseOptions(["--db", ":memory:", "--no-history"])
        bans, chat, _, _ = list(makeService(options))  # type: ignore[call-overload]
        self.assertIsInstance(chat, ChatService)
        self.assertIsNone(chat.history)
        self.assertIs(chat.bans, bans)
        self.assertIsNotNone(chat.accounts)


class PluginTests(SynchronousTestCase):
    def test_service_maker(self) -> None:
        """
        The dropin provides an IServiceMaker called "chat" that uses chat.tap.
        """
        from twisted import plugins

        makers = [m for m in getPlugins(IServiceMaker, plugins) if m.tapname == "chat"]
        self.assertEqual(len(makers), 1)
        maker = makers[0]
        self.assertTrue(verifyObject(IServiceMaker, maker))
        self.assertIsInstance(maker.options(), Options)

    def test_twisted_not_shadowed(self) -> None:
        """
        The project's twisted/ directory (a namespace portion with no __init__.py)
        does not shadow the real twisted package.
        """
        import twisted

        self.assertFalse((ROOT / "twisted" / "__init__.py").exists())
        self.assertFalse((ROOT / "twisted" / "plugins" / "__init__.py").exists())
        self.assertNotEqual(Path(twisted.__file__).resolve().parent, ROOT / "twisted")


class ProjectTests(SynchronousTestCase):
    """
    What a newcomer finds at the top of the checkout.
    """

    def test_license_matches_the_package(self) -> None:
        """
        LICENSE is the licence pyproject.toml declares, and the package ships it.
        """
        project = (ROOT / "pyproject.toml").read_text("utf-8")
        self.assertIn('\nlicense = "MIT"\n', project)
        self.assertIn('\nlicense-files = ["LICENSE"]\n', project)
        self.assertTrue((ROOT / "LICENSE").read_text("utf-8").startswith("MIT License\n"))

    def test_every_package_is_shipped(self) -> None:
        """
        Every package of chat/ is in pyproject.toml's list, so that a
        regular install (and the strict editable one) carries it.
        """
        project = (ROOT / "pyproject.toml").read_text("utf-8")
        found = re.search(r"\npackages = \[(.*?)\]\n", project)
        assert found is not None
        listed = set(re.findall(r'"([\w.]+)"', found.group(1)))
        packages = {
            ".".join(init.parent.relative_to(ROOT).parts)
            for init in (ROOT / "chat").rglob("__init__.py")
        }
        self.assertEqual(packages - listed, set())

    def test_make_never_calls_sudo(self) -> None:
        """
        make installs Debian packages itself only as root, and otherwise says what to install.
        """
        makefile = (ROOT / "Makefile").read_text("utf-8")
        self.assertNotIn("sudo", makefile.split())
        self.assertIn('echo "make test needs', makefile)


class CommandLineTests(TestCase):
    """
    `twistd -n chat ...` as an operator types it.
    """

    def twistd(self, *arguments: str) -> subprocess.CompletedProcess[str]:
        workdir = Path(self.mktemp())
        workdir.mkdir()
        return subprocess.run(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", *arguments],
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=120,
        )

    def test_version(self) -> None:
        """
        `twistd -n chat --version` prints chat's version (and Twisted's), not Twisted's alone.
        """
        shown = self.twistd("-n", "chat", "--version")
        self.assertEqual(
            (shown.returncode, shown.stdout),
            (0, f"chat {__version__} (Twisted {twisted_version})\n"),
        )

    def test_bad_endpoint_shows_good_ones(self) -> None:
        """
        A bad endpoint is refused with what good ones look like, for --listen, --irc and --web.
        """
        for option, good in [
            ("--listen", "tcp:8888, tcp:8888:interface=127.0.0.1, unix:/run/chat.sock, reuseport:"),
            ("--irc", "tcp:6667, tcp:6667:interface=127.0.0.1 or ssl:6697:"),
            ("--web", "tcp:8080, tcp:8080:interface=127.0.0.1 or ssl:8443:"),
        ]:
            refused = self.twistd("-n", "chat", option, "carrier-pigeon:1")
            self.assertEqual(refused.returncode, 1)
            # twistd says it on standard output, under its usage line.
            self.assertIn(f"bad {option} endpoint 'carrier-pigeon:1' (", refused.stdout)
            self.assertIn(f"); good ones look like {good}", refused.stdout)


def printed(script: str) -> str:
    """
    What Python script C{script} prints, run in an interpreter of its own
    (so that what it imports, or finds missing, is its own).
    """
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    return run.stdout.strip()


def twistd_help(python: str, env: dict[str, str] | None = None) -> str:
    """
    What `twistd --help` prints, run from an unrelated directory.
    """
    elsewhere = Path(os.path.expanduser("~"))
    result = subprocess.run(
        [python, "-c", "from twisted.scripts.twistd import run; run()", "--help"],
        cwd=elsewhere if elsewhere.is_dir() else "/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return result.stdout


class DiscoveryTests(TestCase):
    """
    `twistd --help` lists chat from any directory, for both kinds of install.
    """

    def test_this_install(self) -> None:
        """
        The install the tests run from (the Makefile's strict editable one) is found by twistd.
        """
        self.assertIn(
            "A multi-user chat server: netcat, IRC and more.", twistd_help(sys.executable)
        )

    def test_regular_install(self) -> None:
        """
        A regular (non-editable) install, in an environment that cannot see
        this checkout, puts the dropin where twistd finds it.
        """
        venv = Path(self.mktemp()).resolve()
        subprocess.run(
            [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
        )
        site = Path(sysconfig.get_path("purelib", vars={"base": str(venv), "platbase": str(venv)}))
        subprocess.run(
            [
                sys.executable, "-m", "pip", "install", "--quiet", "--no-deps",
                "--no-build-isolation", "--target", str(site), str(ROOT),
            ],
            check=True,
            timeout=300,
            capture_output=True,
        )  # fmt: skip
        self.assertTrue((site / "twisted" / "plugins" / "chat_plugin.py").exists())
        self.assertFalse((site / "twisted" / "plugins" / "__init__.py").exists())
        # Twisted and the rest come from this environment's site-packages, added
        # as a plain path, so its .pth files (the editable install's among them)
        # are not processed and the checkout stays out of sight.
        dependencies = sysconfig.get_path("purelib")
        (site / "dependencies.pth").write_text(dependencies + "\n", encoding="utf-8")
        python = str(venv / "bin" / "python")
        check = subprocess.run(
            [python, "-c", "import chat, sys; print(chat.__file__); print(sys.path)"],
            capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        self.assertTrue(check.stdout.startswith(str(site)), check.stdout)
        self.assertNotIn(f"'{ROOT}'", check.stdout)
        self.assertIn("A multi-user chat server: netcat, IRC and more.", twistd_help(python))


def shut_down(reactor: MemoryReactorClock) -> None:
    """
    Run what C{makeService} left for after the reactor's shutdown: the
    database threads close, and the database's lock is let go of.
    """
    for call, args, kwargs in reactor.triggers.get("after", {}).get("shutdown", []):
        call(*args, **kwargs)
