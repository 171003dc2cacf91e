"""
The layers of chat/, read from the source: which package may import which,
and no import cycles.
"""

from __future__ import annotations

import ast
from pathlib import Path

from twisted.trial.unittest import SynchronousTestCase

ROOT = Path(__file__).resolve().parent.parent

ALLOWED = {
    "chat.core": {"chat.core"},
    "chat.store": {"chat.core", "chat.store"},
    "chat.net": {"chat.core", "chat.net"},
    "chat.line": {"chat.core", "chat.net", "chat.line"},
    "chat.irc": {"chat.core", "chat.net", "chat.irc"},
    # The web door carries the IRC dialect: a transport for it, not a copy.
    "chat.web": {"chat.core", "chat.net", "chat.irc", "chat.web"},
    # The bundled client speaks the line protocol: it completes the line door's commands.
    "chat.client": {"chat.client", "chat.core", "chat.net", "chat.line"},
    "chat.transcript": {"chat.core", "chat.store"},
    "chat.admin": {"chat.core", "chat.store"},
    # The chat across nodes stands behind the core's Chat interface.
    "chat.cluster": {"chat.core", "chat.cluster"},
    "chat.tap": {
        "chat.core",
        "chat.store",
        "chat.net",
        "chat.line",
        "chat.irc",
        "chat.web",
        "chat.cluster",
    },
}
"""
What each part of chat/ may import of chat/: front-ends -> net -> core,
store -> core, cluster -> core; the core imports nothing else of ours, and no front-end sees
the store (its values reach front-ends as the core's types).
"""


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> tuple[set[str], set[str]]:
    """
    The chat modules that C{path} imports: all of them, and those imported
    when it runs (not only for type checking).
    """
    tree = ast.parse(path.read_text("utf-8"))
    typing_only: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and ast.unparse(node.test) in (
            "TYPE_CHECKING",
            "typing.TYPE_CHECKING",
        ):
            typing_only.update(id(child) for child in ast.walk(node))
    everything, at_run_time = set(), set()
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        names = [name for name in names if name == "chat" or name.startswith("chat.")]
        everything.update(names)
        if id(node) not in typing_only:
            at_run_time.update(names)
    return everything, at_run_time


def sources(root: Path = ROOT) -> dict[str, Path]:
    return {module_name(path, root): path for path in sorted((root / "chat").rglob("*.py"))}


def layer(module: str) -> str | None:
    for prefix in sorted(ALLOWED, key=len, reverse=True):
        if module == prefix or module.startswith(prefix + "."):
            return prefix
    return None


def wrong_directions(modules: dict[str, Path]) -> list[str]:
    wrong = []
    for module, path in modules.items():
        own = layer(module)
        if own is None:
            continue
        for imported in imports(path)[0]:
            if imported in ("chat", "chat.__version__"):
                # The package itself holds only its version, and imports nothing.
                continue
            target = layer(imported)
            if target is not None and target not in ALLOWED[own]:
                wrong.append(f"{module} imports {imported}")
    return wrong


def cycles(modules: dict[str, Path], typing_too: bool = False) -> list[list[str]]:
    """
    The import cycles among C{modules}: of run-time imports, or
    (C{typing_too}) of every import, those made only for type checking too.
    """
    graph = {
        module: {i for i in imports(path)[0 if typing_too else 1] if i in modules and i != module}
        for module, path in modules.items()
    }
    found: list[list[str]] = []
    state: dict[str, int] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for imported in sorted(graph[module]):
            if state.get(imported) == 1:
                found.append([*trail[trail.index(imported) :], imported])
            elif imported not in state:
                visit(imported, [*trail, imported])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


class LayerTests(SynchronousTestCase):
    def test_every_module_has_a_layer(self) -> None:
        """
        Every module of chat/ belongs to one of the layers below (so a new
        package must say where it stands).
        """
        strays = [m for m in sources() if m != "chat" and layer(m) is None]
        self.assertEqual(strays, [])
        # The package itself, which anyone may import for its version, imports nothing of ours.
        self.assertEqual(imports(ROOT / "chat" / "__init__.py")[0], set())

    def test_directions(self) -> None:
        """
        No module imports a part of chat/ its layer may not depend on.
        """
        self.assertEqual(wrong_directions(sources()), [])

    def test_a_wrong_direction_is_found(self) -> None:
        """
        The check finds a wrong import where there is one, also one made only
        for type checking: the core importing a front-end or the store.
        """
        root = Path(self.mktemp())
        (root / "chat" / "core").mkdir(parents=True)
        (root / "chat" / "core" / "bad.py").write_text(
            "from typing import TYPE_CHECKING\n"
            "from chat.line import wording\n"
            "if TYPE_CHECKING:\n"
            "    from chat.store.database import Cursor\n"
        )
        self.assertEqual(
            sorted(wrong_directions(sources(root))),
            [
                "chat.core.bad imports chat.line",
                "chat.core.bad imports chat.line.wording",
                "chat.core.bad imports chat.store.database",
                "chat.core.bad imports chat.store.database.Cursor",
            ],
        )

    def test_no_cycles_in_the_core_even_for_types(self) -> None:
        """
        Inside the core, not even an import made only for type checking
        closes a cycle (one did: session, service and commands, each
        naming the others): each module there can be read, and reused, on
        its own terms.
        """
        core = {m: p for m, p in sources().items() if layer(m) == "chat.core"}
        self.assertEqual(cycles(core, typing_too=True), [])
        root = Path(self.mktemp())
        (root / "chat" / "core").mkdir(parents=True)
        (root / "chat" / "core" / "a.py").write_text("from chat.core import b\n")
        (root / "chat" / "core" / "b.py").write_text(
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from chat.core.a import x\n"
        )
        self.assertEqual(cycles(sources(root)), [])
        self.assertEqual(
            cycles(sources(root), typing_too=True), [["chat.core.a", "chat.core.b", "chat.core.a"]]
        )

    def test_no_cycles(self) -> None:
        """
        The modules' run-time imports form no cycle; one made only for type
        checking does not count.
        """
        self.assertEqual(cycles(sources()), [])
        root = Path(self.mktemp())
        (root / "chat" / "net").mkdir(parents=True)
        (root / "chat" / "net" / "a.py").write_text("import chat.net.b\n")
        (root / "chat" / "net" / "b.py").write_text("from chat.net import c\n")
        (root / "chat" / "net" / "c.py").write_text("from chat.net.a import x\n")
        self.assertEqual(
            cycles(sources(root)), [["chat.net.a", "chat.net.b", "chat.net.c", "chat.net.a"]]
        )
