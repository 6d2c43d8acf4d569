"""Audit the source bundle a model carries, by reading it, never by running it.

Each bundled file is parsed with :mod:`ast`; nothing is compiled or executed. Every finding is
at *review* level (``medium``): bundled code runs only once its digest is trusted, and this is
what a reviewer should look at before trusting it:

- ``bundle-import-time-code``: a top-level statement other than imports, ``def``, ``class``,
  constants and the docstring: it runs as soon as the module is imported;
- ``bundle-process``, ``bundle-network``, ``bundle-file``, ``bundle-ctypes``,
  ``bundle-importlib``: use of the modules and functions that start processes, open
  connections, touch files, call native code or import by name;
- ``bundle-eval``: ``eval``, ``exec``, ``compile``;
- ``bundle-environment``: reads (or writes) of environment variables;
- ``bundle-unparsable`` / ``bundle-damaged``: a file that is not Python, or whose recorded
  hash does not match its text.

Each says where (``bundle:<file>:<line>``) and whether it runs at import.
"""

from __future__ import annotations

import ast

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.manifest import ManifestError, parse_manifest

from .findings import Finding

if TYPE_CHECKING:
    from kerascope._reading.bundle import BundleFile

__all__ = ["bundle_findings"]

# Dotted names (after resolving import aliases), by finding code. A name matches itself and
# everything below it (``subprocess`` matches ``subprocess.run``).
_NAMES: dict[str, str] = {
    "bundle-process": "os.system os.popen os.fork os.forkpty os.posix_spawn os.posix_spawnp "
    "os.execl os.execle os.execlp os.execlpe os.execv os.execve os.execvp os.execvpe os.spawnl "
    "os.spawnle os.spawnlp os.spawnlpe os.spawnv os.spawnve os.spawnvp os.spawnvpe os.kill "
    "subprocess pty multiprocessing signal",
    "bundle-network": "socket ssl urllib http ftplib smtplib poplib imaplib telnetlib xmlrpc "
    "socketserver asyncio.open_connection requests httpx urllib3 aiohttp websocket websockets "
    "paramiko",
    "bundle-file": "open io.open os.open os.remove os.unlink os.rmdir os.removedirs os.rename "
    "os.renames os.replace os.mkdir os.makedirs os.chmod os.chown os.symlink os.link "
    "os.truncate os.listdir os.scandir os.walk shutil pathlib tempfile glob pickle marshal "
    "shelve",
    "bundle-ctypes": "ctypes _ctypes cffi",
    "bundle-importlib": "importlib __import__ imp runpy pkgutil zipimport sys.meta_path "
    "sys.path_hooks sys.modules",
    "bundle-eval": "eval exec compile builtins.eval builtins.exec builtins.compile",
    "bundle-environment": "os.environ os.environb os.getenv os.getenvb os.putenv os.unsetenv",
}
_RULES = {name: code for code, names in _NAMES.items() for name in names.split()}

_WHAT = {
    "bundle-process": "starts or signals processes",
    "bundle-network": "can open network connections",
    "bundle-file": "reads or writes files",
    "bundle-ctypes": "calls native code",
    "bundle-importlib": "imports code by name or changes how imports work",
    "bundle-eval": "runs code built from strings",
    "bundle-environment": "reads environment variables",
}
_BUILTIN_NAMES = frozenset({"open", "eval", "exec", "compile", "__import__"})
_FIX = "review this code before trusting the bundle's digest (kerascope unbundle writes it out)"


def bundle_findings(manifest: object) -> list[Finding]:
    """Review-level findings for the source bundle in a raw manifest (none without a bundle).

    Example:
        >>> files = [{"module": "m", "path": "m.py", "size": 0, "sha256": "",
        ...           "source": "import os\\nos.system('id')\\n"}]
        >>> raw = {"version": 2, "objects": [], "bundle": {"digest": "", "files": files}}
        >>> sorted({f.code for f in bundle_findings(raw)})
        ['bundle-damaged', 'bundle-import-time-code', 'bundle-process']
    """
    if manifest is None:
        return []
    try:
        bundle = parse_manifest(manifest).bundle
    except ManifestError:
        return []  # inspect reports an unreadable manifest
    if bundle is None:
        return []
    findings = [
        Finding("medium", "bundle-damaged", line, "do not trust this bundle", "bundle", None)
        for line in bundle.damage()
    ]
    for item in bundle.files:
        findings += _file_findings(item)
    return findings


def _file_findings(item: BundleFile) -> list[Finding]:
    try:
        tree = ast.parse(item.source, filename=item.path)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as error:
        return [
            Finding(
                "medium",
                "bundle-unparsable",
                f"{item.path} is not readable as Python: {error}",
                "do not trust this bundle",
                f"bundle:{item.path}",
                item.module,
            )
        ]
    findings = [
        Finding(
            "medium",
            "bundle-import-time-code",
            f"{item.path}:{node.lineno} runs {type(node).__name__} code when the module is "
            "imported (only imports, def, class and constants are expected at top level)",
            _FIX,
            f"bundle:{item.path}:{node.lineno}",
            item.module,
        )
        for node in tree.body
        if not _inert(node)
    ]
    seen: set[tuple[str, int]] = set()
    for code, name, line, at_import in _Uses(tree).found:
        if (code, line) in seen:
            continue
        seen.add((code, line))
        when = "at import" if at_import else "when called"
        findings.append(
            Finding(
                "medium",
                code,
                f"{item.path}:{line} uses {name} ({when}): it {_WHAT[code]}",
                _FIX,
                f"bundle:{item.path}:{line}",
                item.module,
            )
        )
    return findings


def _inert(node: ast.stmt) -> bool:
    """Whether a top-level statement only defines names (runs no user logic at import)."""
    if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef)):
        return True
    if isinstance(node, (ast.ClassDef, ast.Pass)):
        return True
    if isinstance(node, ast.Expr):
        return isinstance(node.value, ast.Constant)  # a docstring
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return node.value is None or _constant(node.value)
    if isinstance(node, ast.If):
        test = ast.unparse(node.test)
        if test in ("TYPE_CHECKING", "typing.TYPE_CHECKING", "__name__ == '__main__'"):
            return all(_inert(child) for child in node.orelse)
        return False
    if isinstance(node, ast.Try):  # try: import x / except ImportError: ...
        bodies = [node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)]
        return all(_inert(child) for body in bodies for child in body)
    return False


def _constant(node: ast.expr) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


class _Uses(ast.NodeVisitor):
    """Dotted names used in a module, import aliases resolved, and whether at import time."""

    def __init__(self, tree: ast.Module) -> None:
        self.aliases: dict[str, str] = {}
        self.found: list[tuple[str, str, int, bool]] = []
        self.depth = 0  # functions entered: code inside runs only when called
        self.visit(tree)

    def _note(self, name: str, line: int) -> None:
        parts = name.split(".")
        for end in range(len(parts), 0, -1):
            code = _RULES.get(".".join(parts[:end]))
            if code is not None:
                self.found.append((code, name, line, self.depth == 0))
                return

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.aliases[alias.asname or alias.name.split(".")[0]] = (
                alias.name if alias.asname else alias.name.split(".")[0]
            )
            self._note(alias.name, node.lineno)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level:
            return
        for alias in node.names:
            full = f"{node.module}.{alias.name}" if node.module else alias.name
            self.aliases[alias.asname or alias.name] = full
            self._note(full if alias.name != "*" else node.module or "", node.lineno)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> None:
        for decorator in getattr(node, "decorator_list", ()):
            self.visit(decorator)
        self.visit(node.args)
        self.depth += 1
        for child in node.body if isinstance(node.body, list) else [node.body]:
            self.visit(child)
        self.depth -= 1

    visit_FunctionDef = _function
    visit_AsyncFunctionDef = _function
    visit_Lambda = _function

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = _dotted(node)
        if name is not None:
            base, _, rest = name.partition(".")
            if base in self.aliases:
                self._note(f"{self.aliases[base]}.{rest}", node.lineno)
                return
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        if node.id in self.aliases:
            self._note(self.aliases[node.id], node.lineno)
        elif node.id in _BUILTIN_NAMES:
            self._note(node.id, node.lineno)


def _dotted(node: ast.expr) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))
