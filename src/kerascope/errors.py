"""Errors raised by kerascope.

Every error kerascope raises on purpose derives from :class:`KerascopeError` and knows the exit
code the command-line tool uses for it, so the CLI can print one line and exit without a
traceback. Each subclass also inherits the builtin exception a Python caller would expect::

    KerascopeError(Exception)                               exit 1
    ├── SourceError(KerascopeError, ValueError)             exit 2: a --from source is not a
    │                                                        file, directory or module
    ├── ModelFileError(KerascopeError, ValueError)          exit 3: the file is missing, not a
    │                                                        Keras model, truncated or malformed
    ├── UnresolvedObjectsError(KerascopeError, LookupError)  exit 4: custom objects missing or
    │                                                        untrusted; lists every one
    ├── SourceImportError(KerascopeError, ImportError)      exit 5: a source module failed on
    │                                                        import
    ├── KerasLoadError(KerascopeError, RuntimeError)        exit 6: Keras failed although every
    │                                                        object was provided
    ├── RegistryError(KerascopeError, ValueError)           exit 1: two objects under one name
    ├── LintError(KerascopeError, ValueError)               exit 9: save_model found errors;
    │                                                        nothing was written
    └── ExportError(KerascopeError, RuntimeError)           exit 10: an export whose parity
                                                             could not be proven; nothing written

Example:
    >>> import kerascope
    >>> try:
    ...     kerascope.inspect("missing.keras")
    ... except kerascope.ModelFileError as error:
    ...     print(error.exit_code)
    3
"""

from __future__ import annotations

from collections.abc import Sequence

from ._common.record import TYPE_CHECKING, Record

if TYPE_CHECKING:
    from typing import Any

__all__ = [
    "EXIT_BAD_FILE",
    "EXIT_ERROR",
    "EXIT_INTERRUPTED",
    "EXIT_KERAS",
    "EXIT_LINT",
    "EXIT_OK",
    "EXIT_OUTPUT_CLOSED",
    "EXIT_SCAN_HIGH",
    "EXIT_SCAN_REVIEW",
    "EXIT_SOURCE_IMPORT",
    "EXIT_UNRESOLVED",
    "EXIT_USAGE",
    "EXIT_VERIFY_FAILED",
    "ExportError",
    "KerasLoadError",
    "KerascopeError",
    "KerascopeWarning",
    "LintError",
    "ModelFileError",
    "Problem",
    "RegistryError",
    "SourceError",
    "SourceImportError",
    "UnresolvedObjectsError",
]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_BAD_FILE = 3
EXIT_UNRESOLVED = 4
EXIT_SOURCE_IMPORT = 5
EXIT_KERAS = 6
EXIT_SCAN_REVIEW = 7  # kerascope scan: the highest finding is low or medium
EXIT_SCAN_HIGH = 8  # kerascope scan: at least one high finding
EXIT_LINT = 9  # save_model only: the command line never saves
EXIT_VERIFY_FAILED = 10  # kerascope verify: no load in a fresh process, or different outputs
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as a shell reports it
EXIT_OUTPUT_CLOSED = 141  # the reader of the output went away (| head): 128 + SIGPIPE


class KerascopeError(Exception):
    """Base class of every error kerascope raises on purpose.

    Example:
        >>> str(KerascopeError("something went wrong"))
        'something went wrong'
    """

    exit_code: int = EXIT_ERROR

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle without calling ``__init__`` again, so that an error raised in another process
        (a process pool, a Ray worker) arrives as the same class with the same attributes.

        Example:
            >>> import pickle
            >>> error = pickle.loads(pickle.dumps(ModelFileError("m.keras", "is empty")))
            >>> type(error).__name__, error.path, str(error)
            ('ModelFileError', 'm.keras', 'm.keras: is empty')
        """
        return (_rebuild, (type(self), self.args), self.__dict__)


class ModelFileError(KerascopeError, ValueError):
    """The path is not a readable Keras model file; the message says what it is instead.

    Attributes:
        path: The path that was given.

    Example:
        >>> error = ModelFileError("model.keras", "is empty (0 bytes)")
        >>> str(error)
        'model.keras: is empty (0 bytes)'
    """

    exit_code = EXIT_BAD_FILE

    def __init__(self, path: str, problem: str) -> None:
        self.path = path
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class SourceError(KerascopeError, ValueError):
    """A source given with ``--from`` / ``sources=`` is not a file, directory or module.

    Example:
        >>> SourceError("--from 'lib.py': no such file, directory or importable module").exit_code
        2
    """

    exit_code = EXIT_USAGE


class Problem(Record):
    """One reason a model cannot be loaded as asked, with where it is used and the fix.

    A fix is written twice, in the syntax of each place it is shown: ``fix`` for the command
    line (``--trust keras-tcn``), ``python_fix`` for Python (``trust=['keras-tcn']``). A fix that
    is not an option (``fix the syntax error in layers.py:7``) is the same in both, and
    ``python_fix`` is then left empty.

    Attributes:
        key: The name Keras looks the object up under (``"mypkg>Scale"``).
        kind: What it is used as (``"layer"``, ``"loss"`` ...).
        json_paths: Every place in the config that uses it.
        reason: ``missing``, ``untrusted``, ``unreadable-source``, ``import-cycle``, a finding
            code ...
        message: What is wrong.
        fix: What fixes it, as command-line options.
        candidates: Close names found in the sources; for ``untrusted``, the names to trust
            (distributions, or the import package when no distribution provides it).
        python_fix: What fixes it, as Python arguments; empty when it is the same as ``fix``.
    """

    key: str
    kind: str
    json_paths: tuple[str, ...]
    reason: str
    message: str
    fix: str
    candidates: tuple[str, ...] = ()
    python_fix: str = ""

    def fix_for(self, syntax: str = "cli") -> str:
        """The fix in the syntax of where it is shown: ``"cli"`` or ``"python"``.

        Example:
            >>> problem = Problem("TCN", "layer", (), "untrusted", "not trusted",
            ...                   "--trust keras-tcn", ("keras-tcn",), "trust=['keras-tcn']")
            >>> problem.fix_for("cli"), problem.fix_for("python")
            ('--trust keras-tcn', "trust=['keras-tcn']")
        """
        if syntax not in ("cli", "python"):
            raise ValueError(f"syntax must be 'cli' or 'python', not {syntax!r}")
        return self.python_fix if syntax == "python" and self.python_fix else self.fix

    def describe(self, syntax: str = "cli") -> str:
        """Two lines for a report, with the fix in the given syntax (``"cli"`` or ``"python"``).

        Example:
            >>> problem = Problem("Scale", "layer", ("$.config.layers[1]",), "missing",
            ...                   "not found", "--from layers.py", (), "sources=['layers.py']")
            >>> print(problem.describe())
            - 'Scale' (layer) at $.config.layers[1]: not found
                fix: --from layers.py
            >>> print(problem.describe("python").splitlines()[1])
                fix: sources=['layers.py']
        """
        where = ""
        if self.json_paths:
            more = f" (+{len(self.json_paths) - 2} more)" if len(self.json_paths) > 2 else ""
            where = " at " + ", ".join(self.json_paths[:2]) + more
        return (
            f"- '{self.key}' ({self.kind}){where}: {self.message}\n    fix: {self.fix_for(syntax)}"
        )


class UnresolvedObjectsError(KerascopeError, LookupError):
    """Everything that stops a model from loading, listed at once.

    Attributes:
        path: The model file.
        problems: One :class:`Problem` per missing or untrusted object (and other blockers).
        notes: What else the plan found, which would not have stopped the load by itself.

    Example:
        >>> problem = Problem("a", "loss", (), "missing", "x", "y")
        >>> error = UnresolvedObjectsError("m.keras", [problem])
        >>> error.exit_code, len(error.problems)
        (4, 1)
    """

    exit_code = EXIT_UNRESOLVED

    def __init__(self, path: str, problems: Sequence[Problem], notes: Sequence[str] = ()) -> None:
        self.path = path
        self.problems = tuple(problems)
        self.notes = tuple(notes)
        super().__init__(self.describe("python"))

    def describe(self, syntax: str = "python") -> str:
        """Every problem, with fixes in the syntax of where they are shown.

        ``str(error)`` is the Python form (``trust=['keras-tcn']``); the command-line tool
        prints ``describe("cli")`` (``--trust keras-tcn``).

        Example:
            >>> problem = Problem("a", "loss", (), "missing", "not found", "--from a.py", (),
            ...                   "sources=['a.py']")
            >>> print(UnresolvedObjectsError("m.keras", [problem]).describe("cli"))
            m.keras cannot be loaded: 1 problem
            - 'a' (loss): not found
                fix: --from a.py
        """
        count = len(self.problems)
        lines = [f"{self.path} cannot be loaded: {count} problem{'s' if count != 1 else ''}"]
        lines += [problem.describe(syntax) for problem in self.problems]
        lines += [f"note: {note}" for note in self.notes]
        return "\n".join(lines)


class SourceImportError(KerascopeError, ImportError):
    """A module that defines a needed object raised an exception while being imported.

    Example:
        >>> SourceImportError("layers", "importing 'layers' failed: NameError: x").exit_code
        5
    """

    exit_code = EXIT_SOURCE_IMPORT

    def __init__(self, module: str, message: str) -> None:
        self.module = module
        super().__init__(message)


class KerasLoadError(KerascopeError, RuntimeError):
    """Keras failed to build the model although kerascope provided every object.

    The message keeps Keras's own final explanation and drops the kilobytes of config Keras
    embeds in it.

    Example:
        >>> KerasLoadError("m.keras", ValueError("bad")).exit_code
        6
    """

    exit_code = EXIT_KERAS

    def __init__(self, path: str, error: BaseException) -> None:
        self.path = path
        self.keras_error = error
        super().__init__(f"{path}: Keras failed to load it: {_essence(error)}")


class RegistryError(KerascopeError, ValueError):
    """Two different objects were registered under one name.

    Example:
        >>> RegistryError("'mypkg>Scale' is already registered").exit_code
        1
    """


class LintError(KerascopeError, ValueError):
    """``save_model`` found problems that would make the saved file fail to load; nothing was
    written.

    Attributes:
        path: The file that was not written.
        findings: Every error found (records with ``code``, ``object``, ``message``, ``fix``).

    Example:
        >>> LintError("m.keras", []).exit_code
        9
    """

    exit_code = EXIT_LINT

    def __init__(self, path: str, findings: Sequence[Any]) -> None:
        self.path = path
        self.findings = tuple(findings)
        count = len(self.findings)
        lines = [f"{path} was not written: {count} problem{'s' if count != 1 else ''} found"]
        for finding in self.findings:
            lines.append(f"- {finding.code}: {finding.message}")
            lines.append(f"    fix: {getattr(finding, 'python_fix', '') or finding.fix}")
        super().__init__("\n".join(lines))


class ExportError(KerascopeError, RuntimeError):
    """An export was refused or its artifact failed the parity check; nothing was written.

    Attributes:
        target: The artifact that was not written.
        reason: Why, with the fix when there is one.

    Example:
        >>> ExportError("out", "outputs differ by 0.5").exit_code
        10
    """

    exit_code = EXIT_VERIFY_FAILED

    def __init__(self, target: str, reason: str) -> None:
        self.target = target
        self.reason = reason
        super().__init__(f"{target} was not written: {reason}")


def _rebuild(cls: type[KerascopeError], args: tuple[Any, ...]) -> KerascopeError:
    """An error of class ``cls`` with ``args``, without running its ``__init__`` (unpickling)."""
    return cls.__new__(cls, *args)


def _essence(error: BaseException) -> str:
    text = str(error)
    marker = "Exception encountered: "
    if marker in text:
        text = text.rsplit(marker, 1)[1]
    for cut in (" Full object config:", "\n\nconfig="):
        if cut in text:
            text = text.split(cut, 1)[0]
    first = text.strip().splitlines()[0] if text.strip() else type(error).__name__
    return f"{type(error).__name__}: {first[:500]}"


class KerascopeWarning(UserWarning):
    """Something the user should know about a load or save that still succeeded.

    Example:
        >>> import warnings
        >>> with warnings.catch_warnings(record=True) as caught:
        ...     warnings.simplefilter("always")
        ...     warnings.warn("a note", KerascopeWarning)
        >>> caught[0].category.__name__
        'KerascopeWarning'
    """
