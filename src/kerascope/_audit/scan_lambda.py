"""What a Lambda's bytecode would do, told from its names, without running it.

For each Lambda bytecode of a config (:func:`kerascope._reading.lambda_code.find_lambda_code`),
three findings:

- ``lambda-bytecode`` (info): the function's name (``double_plus_one`` of module ``k2objects``,
  or ``<lambda>``), its arguments and the names its bytecode reads (globals and attributes:
  ``co_names`` of the code and of every nested code object).
- ``lambda-bytecode-dangerous-names`` (high): among those names, one of :data:`DANGEROUS_NAMES`,
  names that reach files, processes, the network or dynamic code. High means refused: ``--unsafe``
  (``safe_mode=False``), which accepts Lambda bytecode, does not accept this one; only
  ``--allow lambda-bytecode-dangerous-names`` does, for someone who read the code.
- ``lambda-bytecode-unreadable`` (high): bytecode kerascope cannot read, so it cannot tell what it
  would do (refused the same way).

A list of names is a screen, not a proof: bytecode that reads none of them may still do harm
(through an object it is given, or names built at run time that the list misses). The ``lambda``
finding still refuses every Lambda bytecode without ``--unsafe``.
"""

from __future__ import annotations

from collections.abc import Iterable

from kerascope._reading.lambda_code import LambdaCode

from .findings import Finding

__all__ = ["DANGEROUS_NAMES", "lambda_code_findings"]

DANGEROUS_NAMES = frozenset(
    {
        # processes, files, the network, the interpreter
        "os",
        "posix",
        "nt",
        "subprocess",
        "sys",
        "socket",
        "shutil",
        "pathlib",
        "tempfile",
        "ctypes",
        "pty",
        "signal",
        "multiprocessing",
        "urllib",
        "http",
        "requests",
        "ftplib",
        "smtplib",
        "webbrowser",
        "system",
        "popen",
        "spawnv",
        "execv",
        "execve",
        "fork",
        "unlink",
        "rmtree",
        "urlopen",
        # dynamic code and escapes from what the code seems to name
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "importlib",
        "import_module",
        "builtins",
        "__builtins__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "locals",
        "vars",
        "__globals__",
        "__subclasses__",
        "__code__",
        "__reduce__",
        "pickle",
        "marshal",
        "shelve",
        "breakpoint",
        "input",
        "exit",
        "quit",
        # TensorFlow and Keras calls that reach files, the network or Python callbacks
        "gfile",
        "GFile",
        "write_file",
        "read_file",
        "py_function",
        "numpy_function",
        "py_func",
        "get_file",
        "enable_unsafe_deserialization",
    }
)


def lambda_code_findings(lambdas: Iterable[LambdaCode]) -> list[Finding]:
    """The findings about each Lambda bytecode: what it reads, and what it must not.

    Example:
        >>> from kerascope._reading.lambda_code import find_lambda_code
        >>> from kerascope._reading.marshal_code import _EXAMPLE
        >>> config = {"class_name": "__lambda__", "config": {"code": _EXAMPLE}}
        >>> [(f.severity, f.code) for f in lambda_code_findings(find_lambda_code(config))]
        [('info', 'lambda-bytecode')]
    """
    findings: list[Finding] = []
    for code in lambdas:
        facts = code.facts
        if facts is None:
            findings.append(
                Finding(
                    "high",
                    "lambda-bytecode-unreadable",
                    f"kerascope cannot read this Lambda's bytecode ({code.error}), so it cannot "
                    "tell what the bytecode would do",
                    "do not load this file (--unsafe does not accept it; --allow "
                    "lambda-bytecode-unreadable only if you trust whoever wrote it)",
                    code.json_path,
                    python_fix="do not load this file (safe_mode=False does not accept it; "
                    "allow=['lambda-bytecode-unreadable'] only if you trust whoever wrote it)",
                )
            )
            continue
        names = facts.all_names
        read = ", ".join(names) if names else "no global or attribute name"
        objects = f"{code.module}.{facts.name}" if code.module else facts.name
        arguments = f"{facts.argcount} argument{'s' if facts.argcount != 1 else ''}"
        findings.append(
            Finding(
                "info",
                "lambda-bytecode",
                f"the bytecode is {code.described}, {arguments}, compiled from "
                f"{facts.filename!r}; it reads: {read} (read as data, nothing run)",
                _fix(code),
                code.json_path,
                objects,
                _fix(code, python=True),
            )
        )
        dangerous = [name for name in names if name in DANGEROUS_NAMES]
        if dangerous:
            findings.append(
                Finding(
                    "high",
                    "lambda-bytecode-dangerous-names",
                    f"the bytecode of {code.described} uses {', '.join(dangerous)}: names that "
                    "reach files, processes, the network or dynamic code; loading the model "
                    "would run it",
                    "do not load this file (--unsafe does not accept it; --allow "
                    "lambda-bytecode-dangerous-names only if you read the code and trust it)",
                    code.json_path,
                    objects,
                    "do not load this file (safe_mode=False does not accept it; "
                    "allow=['lambda-bytecode-dangerous-names'] only if you read the code and "
                    "trust it)",
                )
            )
    return findings


def _fix(code: LambdaCode, python: bool = False) -> str:
    facts = code.facts
    assert facts is not None
    if code.keras2 and facts.is_named_function and not code.has_closure:
        where = f"module {code.module}" if code.module else "your code"
        given = "sources=[...] or trust=[...]" if python else "--from or --trust"
        return (
            f"if a Keras 2 file and you have the code that defines {facts.name} ({where}), give "
            f"it with {given}: kerascope then uses your function and never runs the bytecode"
        )
    return "nothing to do: this says what the bytecode would run"
