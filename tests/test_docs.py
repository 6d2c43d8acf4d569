"""The README says what the code and the benchmarks say: exit codes, speed figures."""

from __future__ import annotations

import re

from kerascope import errors
from kerascope._cli.exit_codes import EXIT_CODES
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
BENCHMARKS = (ROOT / "BENCHMARKS.md").read_text()


def _section(text: str, title: str) -> str:
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


def test_readme_exit_codes_are_the_commands() -> None:
    table = re.findall(r"^\| (\d+) \| (.+) \|$", _section(README, "Exit codes"), re.M)
    assert [int(code) for code, _ in table] == [code for code, _ in EXIT_CODES]


def test_the_command_lists_every_exit_code_errors_defines() -> None:
    defined = {value for name, value in vars(errors).items() if name.startswith("EXIT_")} - {
        errors.EXIT_LINT
    }  # save_model's: the command line never saves
    assert {code for code, _ in EXIT_CODES} == defined


# A figure: a number with a unit of time, size or ratio, or a count such as 30/30.
FIGURE = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?) ?(?:ms|s|MiB|GiB|MB|x)\b|(\d+/\d+)")


def test_readme_speed_figures_come_from_benchmarks() -> None:
    figures = [number or count for number, count in FIGURE.findall(_section(README, "Speed"))]
    assert len(figures) >= 10
    missing = [
        figure
        for figure in figures
        if not re.search(rf"(?<![\d.]){re.escape(figure)}(?!\d|\.\d)", BENCHMARKS)
    ]
    assert missing == []
