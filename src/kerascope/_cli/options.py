"""The command that applies every fix: ``kerascope load PATH`` with the options that were given
and those the problems name, ready to paste.

A :class:`~kerascope.errors.Problem` writes its fix for the command line (``--trust keras-tcn``,
``--from layers.py``) and for Python (``trust=['keras-tcn']``). A command is offered only when
every fix is options of ``kerascope load`` (optionally followed by an explanation in
parentheses), each value is one the parser accepts, and each ``--from`` names a file,
directory or module that exists: a fix in words, or one with a value only the user knows
(``--from FILE.py``), gets none.
"""

from __future__ import annotations

import argparse
import os
import shlex
import shutil
import sys
from collections.abc import Sequence

from kerascope._common.pythonpath import is_dotted, locate_module
from kerascope._common.record import TYPE_CHECKING

if TYPE_CHECKING:
    from kerascope.errors import Problem

__all__ = ["fix_arguments", "load_command", "program"]

_EXPLANATION = " ("  # what follows the options of a fix, in parentheses, is for reading


def fix_arguments(fix: str, load: argparse.ArgumentParser) -> list[str] | None:
    """The options of ``kerascope load`` a fix consists of; None when it is not only options.

    A ``--from`` that names nothing that exists (a placeholder such as ``FILE.py``) makes it
    not a fix that can be pasted.

    Example:
        >>> from kerascope._cli.commands import subcommand
        >>> fix_arguments("--trust keras-tcn", subcommand("load"))
        ['--trust', 'keras-tcn']
        >>> fix_arguments("--compile no (then compile the model again)", subcommand("load"))
        ['--compile', 'no']
        >>> fix_arguments("--unsafe (only if you trust this file)", subcommand("load"))
        ['--unsafe']
        >>> fix_arguments("fix the syntax error in layers.py:7", subcommand("load")) is None
        True
        >>> fix_arguments("--from FILE.py (the file that defines it)", subcommand("load")) is None
        True
    """
    text = fix.strip()
    if text.endswith(")") and _EXPLANATION in text:
        text = text.split(_EXPLANATION, 1)[0]
    try:
        words = shlex.split(text)
    except ValueError:
        return None
    parsed = _parse(words, load)
    if not parsed:
        return None
    return [word for action, value in parsed for word in _words(action, value)]


def load_command(
    path: str,
    arguments: argparse.Namespace,
    problems: Sequence[Problem],
    load: argparse.ArgumentParser,
) -> str | None:
    """``kerascope load PATH``, the options given and every fix; None unless all are concrete.

    Example:
        >>> from kerascope._cli.commands import subcommand
        >>> from kerascope.errors import Problem
        >>> given = subcommand("load").parse_args(["m.keras", "--compile", "yes"])
        >>> problem = Problem("Scale", "layer", (), "untrusted", "x", "--trust 'my lib'")
        >>> load_command("m.keras", given, [problem], subcommand("load"))  # doctest: +SKIP
        "kerascope load m.keras --trust 'my lib' --compile yes"
    """
    if not problems:
        return None
    chosen: dict[str, object] = {}
    for action in _options(load):
        value = getattr(arguments, action.dest, action.default)
        chosen[action.dest] = list(value) if isinstance(value, list) else value
    for problem in problems:
        words = fix_arguments(problem.fix, load)
        if words is None:
            return None
        for action, value in _parse(words, load) or []:
            held = chosen[action.dest]
            if isinstance(held, list):  # a repeatable option: one more value
                if value not in held:
                    held.append(value)
            else:
                chosen[action.dest] = action.const if action.nargs == 0 else value
    words = []
    for action in _options(load):
        value = chosen[action.dest]
        if isinstance(value, list):
            words += [word for item in value for word in (action.option_strings[0], str(item))]
        elif value != action.default:
            words += _words(action, value)
    return shlex.join([*program(), "load", path, *words])


def _options(load: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in load._actions if action.option_strings and action.dest != "help"]


def _parse(
    words: list[str], load: argparse.ArgumentParser
) -> list[tuple[argparse.Action, object]] | None:
    """``(action, value)`` for each option in ``words``; None if a word is not an option."""
    by_flag = {flag: action for action in _options(load) for flag in action.option_strings}
    parsed: list[tuple[argparse.Action, object]] = []
    position = 0
    while position < len(words):
        action = by_flag.get(words[position])
        if action is None:
            return None
        if action.nargs == 0:  # a switch: --unsafe, --strict
            parsed.append((action, action.const))
            position += 1
            continue
        if position + 1 >= len(words):
            return None
        value = words[position + 1]
        if action.choices is not None and value not in action.choices:
            return None
        if action.dest == "sources" and not _exists(value):  # FILE.py: for the user to fill in
            return None
        parsed.append((action, value))
        position += 2
    return parsed


def _words(action: argparse.Action, value: object) -> list[str]:
    flag = action.option_strings[0]
    if action.nargs == 0:
        return [flag] if value else []
    return [flag, str(value)]


def _exists(source: str) -> bool:
    return os.path.exists(source) or (is_dotted(source) and locate_module(source) is not None)


def program() -> list[str]:
    """How this command was run: ``kerascope``, or ``python -m kerascope``.

    The two differ: ``python -m`` puts the working directory on ``sys.path``, so modules there
    are importable (and can be trusted) only that way. A printed command repeats the way used.

    Example:
        >>> program()  # doctest: +SKIP
        ['kerascope']
    """
    main = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "__main__.py")
    if not sys.argv or os.path.realpath(sys.argv[0]) != os.path.realpath(main):
        return ["kerascope"]
    # the same path, not the same file: a virtualenv's python links to the base interpreter
    executable = os.path.abspath(sys.executable)
    for name in ("python", "python3"):
        found = shutil.which(name)
        if found and os.path.abspath(found) == executable:
            return [name, "-m", "kerascope"]
    return [sys.executable, "-m", "kerascope"]
