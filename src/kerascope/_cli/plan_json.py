"""The JSON document of ``kerascope check --json`` (specified in docs/check-json.md)."""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING

from .options import fix_arguments

if TYPE_CHECKING:
    import argparse
    from typing import Any

    from kerascope._resolving.plan import Plan, Resolution
    from kerascope.errors import Problem

__all__ = ["CHECK_SCHEMA_VERSION", "plan_document"]

CHECK_SCHEMA_VERSION = 1


def plan_document(plan: Plan, command: str | None, load: argparse.ArgumentParser) -> dict[str, Any]:
    """The plan as a JSON-ready dict, with the command that applies every fix (or None).

    ``load`` is the parser of ``kerascope load``, which reads each fix as options.

    Example:
        >>> plan = kerascope.check("my_model.keras", trust=["custom_layer"])  # doctest: +SKIP
        >>> plan_document(plan, None, subcommand("load"))["ok"]  # doctest: +SKIP
        True
    """
    inspection = plan.inspection
    return {
        "schema_version": CHECK_SCHEMA_VERSION,
        "path": inspection.path,
        "format": inspection.format,
        "ok": plan.ok,
        "compile": plan.compile,
        "safe_mode": plan.safe_mode,
        "objects": [_resolution(resolution) for resolution in plan.resolutions],
        "compile_fixes": [
            {"key": alias, "loss": canonical} for alias, canonical in plan.compile_fixes.items()
        ],
        "optimizer_fixes": [
            {"key": key, "optimizer": public} for key, public in plan.optimizer_fixes.items()
        ],
        "backend": {
            "active": plan.backend,
            "objects": [code.to_dict() for code in plan.backend_code],
        },
        "problems": [_problem(problem, load) for problem in plan.problems],
        "notes": list(plan.notes),
        "command": command,
    }


def _resolution(resolution: Resolution) -> dict[str, Any]:
    obj = resolution.object
    return {
        "key": obj.key,
        "kinds": list(obj.kinds),
        "lambda": obj.is_lambda,
        "json_paths": list(obj.json_paths),
        "origin": resolution.origin,
        "where": resolution.where,
        "module": resolution.module,
        "attribute": resolution.attribute,
        "file": resolution.file,
    }


def _problem(problem: Problem, load: argparse.ArgumentParser) -> dict[str, Any]:
    return {
        "key": problem.key,
        "kind": problem.kind,
        "json_paths": list(problem.json_paths),
        "reason": problem.reason,
        "message": problem.message,
        "fix": problem.fix,
        "arguments": fix_arguments(problem.fix, load) or [],
        "candidates": list(problem.candidates),
    }
