"""``kerascope scan``: audit a model file for everything that could run code, read outside files
or exhaust memory when it is loaded, before anything is loaded.

Every finding is a record (severity, kind, JSON path, message, fix); a scan never stops at the
first one. Severities: ``info`` (normal, worth knowing), ``low``, ``medium`` (review before
loading) and ``high`` (kerascope refuses to load the file unless told to allow that kind).
"""

from __future__ import annotations

import os
import sys

from kerascope._common.files import file_identity
from kerascope._common.record import TYPE_CHECKING, Record
from kerascope._reading import keras_names as _builtins
from kerascope._reading.archive import MAX_MEMBERS, ZipError, ZipMember, read_members
from kerascope._reading.modelfile import MAX_CONFIG_BYTES, read_model_file
from kerascope._reading.references import Reference, find_references
from kerascope.errors import ModelFileError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any, Literal

    Severity = Literal["info", "low", "medium", "high"]

__all__ = ["SEVERITY_ORDER", "ScanFinding", "ScanReport", "scan"]

SEVERITY_ORDER: dict[str, int] = {"info": 0, "low": 1, "medium": 2, "high": 3}

# Classes whose from_config reads or runs something outside the model file.
_OUTSIDE_LOADERS = {
    "TFSMLayer": "loads and runs a TensorFlow SavedModel from a path in the config",
    "TorchModuleWrapper": "unpickles a PyTorch module stored in the config (torch.load)",
}
_VOCABULARY_LAYERS = frozenset({"StringLookup", "IntegerLookup", "TextVectorization"})
_DANGEROUS_FUNCTIONS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "open",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "input",
        "breakpoint",
        "exit",
        "quit",
        "system",
        "popen",
        "globals",
        "vars",
        "help",
    }
)
_EXECUTABLE_SUFFIXES = (
    ".py",
    ".pyc",
    ".pyo",
    ".so",
    ".dll",
    ".dylib",
    ".exe",
    ".sh",
    ".pkl",
    ".pickle",
    ".bat",
    ".cmd",
    ".ps1",
    ".jar",
)
_SHAPE_KEYS = frozenset(
    {
        "units",
        "filters",
        "input_dim",
        "output_dim",
        "num_heads",
        "key_dim",
        "value_dim",
        "max_tokens",
        "num_tokens",
        "batch_shape",
        "shape",
        "batch_input_shape",
        "input_shape",
        "target_shape",
        "dims",
        "kernel_size",
        "pool_size",
        "size",
        "num_bins",
    }
)
_ABSURD_DIMENSION = 2**31
_ABSURD_ELEMENTS = 2**36  # 64 G elements: 256 GB of float32 for one tensor
_BOMB_SIZE = 2**30  # a member declaring more than 1 GiB ...
_BOMB_RATIO = 100  # ... at more than 100 times its stored size
_PICKLE_PREFIXES = ("gASV", "gAJ", "gAN", "gAR")  # base64 of pickle protocol 2-5 headers


class ScanFinding(Record):
    """One thing a scan found.

    Attributes:
        severity: ``info``, ``low``, ``medium`` or ``high``.
        kind: A stable identifier, e.g. ``lambda``, ``hdf5-external-link``.
        json_path: Where in the config (or ``member:NAME``, ``h5:/path`` outside it).
        message: What was found.
        fix: What to do.
    """

    severity: Severity
    kind: str
    json_path: str | None
    message: str
    fix: str

    def to_dict(self) -> dict[str, Any]:
        """The finding as a JSON-ready dict.

        Example:
            >>> ScanFinding("high", "lambda", "$", "bytecode", "do not load").to_dict()["kind"]
            'lambda'
        """
        return dict(self._asdict())


class ScanReport(Record):
    """Everything a scan found in one file."""

    path: str
    format: str | None
    findings: tuple[ScanFinding, ...]

    @property
    def highest(self) -> str:
        """The highest severity found (``"none"`` when nothing was found)."""
        if not self.findings:
            return "none"
        return max((f.severity for f in self.findings), key=SEVERITY_ORDER.__getitem__)

    def at_least(self, severity: str) -> list[ScanFinding]:
        """Findings of this severity or higher."""
        floor = SEVERITY_ORDER[severity]
        return [f for f in self.findings if SEVERITY_ORDER[f.severity] >= floor]

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of ``kerascope scan --json``.

        Example:
            >>> ScanReport("m.keras", "keras", ()).to_dict()["highest"]
            'none'
        """
        return {
            "schema_version": 1,
            "path": self.path,
            "format": self.format,
            "highest": self.highest,
            "findings": [finding.to_dict() for finding in self.findings],
        }


def scan(path: str | os.PathLike[str]) -> ScanReport:
    """Audit a model file without importing Keras or anything the file names.

    Looks at the archive (member names, sizes, unexpected files), the config (Lambda bytecode,
    references to modules outside Keras, Keras APIs that are not modeling objects, layers that
    load outside files or pickles, file paths and URLs, absurd shapes, nesting) and the HDF5
    weights (links, external storage, virtual datasets, shape bombs), and reports every finding.

    Raises:
        ModelFileError: The path does not exist. (Anything wrong inside the file is a finding.)

    Example:
        >>> report = kerascope.scan("model.keras")  # doctest: +SKIP
        >>> report.highest, [f.kind for f in report.findings]  # doctest: +SKIP
        ('high', ['lambda'])
    """
    text_path = os.fspath(path)
    if not os.path.exists(text_path):
        raise ModelFileError(text_path, "no such file or directory")
    identity = file_identity(text_path)
    cached = _REPORTS.get(identity) if identity else None
    if cached is not None:
        return cached._replace(path=text_path)
    report = _scan(text_path)
    if identity:
        if len(_REPORTS) >= _MAX_REMEMBERED:
            _REPORTS.pop(next(iter(_REPORTS)))
        _REPORTS[identity] = report
    return report


# Reports of unchanged files are reused within a process: loading the same file again does not
# pay for a second audit. A file counts as unchanged while its inode, size and times are.
_REPORTS: dict[tuple[object, ...], ScanReport] = {}
_MAX_REMEMBERED = 64


def _scan(text_path: str) -> ScanReport:
    findings: list[ScanFinding] = []
    file_format: str | None = None
    members: dict[str, ZipMember] = {}
    if os.path.isfile(text_path) and _is_zip(text_path):
        file_format = "keras"
        members = _archive_findings(text_path, findings)
    try:
        model_file = read_model_file(text_path)
    except ModelFileError as error:
        findings.append(
            ScanFinding("high", "unreadable", "$", error.problem, "do not load this file")
        )
    else:
        file_format = model_file.format
        findings += _config_findings(model_file.config, model_file.training_config)
    findings += _weights_findings(text_path, file_format, members)
    return ScanReport(text_path, file_format, tuple(findings))


def _is_zip(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) in (b"PK\x03\x04", b"PK\x05\x06")


# --- the archive ----------------------------------------------------------------------------------


def _archive_findings(path: str, findings: list[ScanFinding]) -> dict[str, ZipMember]:
    try:
        with open(path, "rb") as handle:
            members = read_members(handle)
    except ZipError as error:
        findings.append(ScanFinding("high", "damaged-archive", None, str(error), "do not load"))
        return {}
    declared = 0
    for name, member in members.items():
        where = f"member:{name}"
        declared += member.size
        if _escapes(name):
            findings.append(
                ScanFinding(
                    "high",
                    "path-traversal",
                    where,
                    f"archive member {name!r} points outside the archive when extracted",
                    "do not load: Keras extracts assets next to temporary files",
                )
            )
        if (member.external_attributes >> 16) & 0o170000 == 0o120000:
            findings.append(
                ScanFinding(
                    "high",
                    "symlink-member",
                    where,
                    f"archive member {name!r} is a symbolic link",
                    "do not load",
                )
            )
        if member.size > _BOMB_SIZE and member.size > _BOMB_RATIO * max(member.compressed_size, 1):
            findings.append(
                ScanFinding(
                    "high",
                    "zip-bomb",
                    where,
                    f"archive member {name!r} declares {member.size:,} bytes but stores "
                    f"{member.compressed_size:,}",
                    "do not load: extracting it would exhaust memory or disk",
                )
            )
        if name.lower().endswith(_EXECUTABLE_SUFFIXES):
            findings.append(
                ScanFinding(
                    "medium",
                    "unexpected-member",
                    where,
                    f"archive member {name!r} is code or a pickle; Keras never writes one and "
                    "never reads it, but something else might",
                    "remove it, or find out who added it",
                )
            )
        if name == "config.json" and member.size > MAX_CONFIG_BYTES:
            findings.append(
                ScanFinding(
                    "high",
                    "oversized-config",
                    where,
                    f"config.json declares {member.size:,} bytes",
                    "do not load",
                )
            )
    if len(members) >= MAX_MEMBERS:
        findings.append(
            ScanFinding(
                "high",
                "too-many-members",
                None,
                f"the archive has {len(members)} members",
                "do not load",
            )
        )
    return members


def _escapes(name: str) -> bool:
    normalized = name.replace("\\", "/")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        return True
    return ".." in normalized.split("/")


# --- the config -----------------------------------------------------------------------------------


def _config_findings(
    config: dict[str, Any], training_config: dict[str, Any] | None
) -> list[ScanFinding]:
    try:
        references = find_references(config, training_config)
    except (ValueError, RecursionError) as error:
        return [ScanFinding("high", "deep-nesting", "$", str(error), "do not load this file")]
    findings = [f for reference in references for f in _reference_findings(reference)]
    findings += _value_findings(config, "$", None)
    if training_config is not None:
        findings += _value_findings(training_config, "$.training_config", None)
    return findings


def _reference_findings(reference: Reference) -> Iterator[ScanFinding]:
    path, module, name = reference.json_path, reference.module, reference.class_name
    if reference.is_lambda:
        yield ScanFinding(
            "high",
            "lambda",
            path,
            "a Lambda layer holds Python bytecode, which runs while the model is loaded once "
            "safe mode is off; it only runs on the Python version that wrote it",
            "replace the Lambda with a registered layer; load with allow=['lambda'] only if "
            "you trust whoever wrote this file",
        )
        return
    if _builtins.is_non_modeling_api(module, name):
        yield ScanFinding(
            "high",
            "non-modeling-api",
            path,
            f"the config names {module}.{name}, a Keras API that is not a modeling object "
            "(used in published attacks to download files or turn safe mode off)",
            "do not load this file",
        )
        return
    if name in _OUTSIDE_LOADERS and (module is None or module.startswith("keras")):
        yield ScanFinding(
            "high",
            "outside-loader",
            path,
            f"{name} {_OUTSIDE_LOADERS[name]}",
            "do not load this file unless you know what it loads",
        )
        return
    top = (module or "").split(".")[0]
    if module and top != "builtins" and top in sys.stdlib_module_names:
        yield ScanFinding(
            "high",
            "stdlib-object",
            path,
            f"the config names {module}.{name}, from the Python standard library, as a "
            f"{reference.kind}",
            "do not load this file",
        )
    elif reference.key in _DANGEROUS_FUNCTIONS or name in _DANGEROUS_FUNCTIONS:
        yield ScanFinding(
            "high",
            "dangerous-function",
            path,
            f"the config names a function called {name!r}",
            "do not load this file",
        )
    elif reference.custom and module and _builtins.is_importable_keras_package(module):
        if top == "keras":
            yield ScanFinding(
                "high",
                "keras-internal",
                path,
                f"the config names {module}.{name}, which is not a public Keras object",
                "do not load this file",
            )
        else:
            yield ScanFinding(
                "info",
                "keras-package",
                path,
                f"{reference.key} comes from {top}, which Keras imports by itself",
                "make sure the installed package is the real one",
            )
    elif reference.custom:
        origin = f"module {module}" if module and module != "builtins" else "no recorded module"
        yield ScanFinding(
            "info",
            "custom-object",
            path,
            f"{reference.kind} {reference.key} ({origin}) needs code from outside the file; "
            "scan imports nothing",
            "load it with --from pointing at code you trust, or --trust its package",
        )


def _value_findings(value: Any, path: str, parent_class: str | None) -> Iterator[ScanFinding]:
    stack: list[tuple[Any, str, str | None, str | None]] = [(value, path, None, parent_class)]
    while stack:
        node, where, key, owner = stack.pop()
        if isinstance(node, dict):
            owner_here = (
                node.get("class_name") if isinstance(node.get("class_name"), str) else owner
            )
            for child_key, child in node.items():
                stack.append((child, f"{where}.{child_key}", str(child_key), owner_here))
        elif isinstance(node, list):
            if key in _SHAPE_KEYS:
                yield from _shape_findings(node, where)
            if owner in _VOCABULARY_LAYERS and key == "vocabulary":
                continue  # an inline vocabulary: its tokens are data, whatever they look like
            for index, child in enumerate(node):
                stack.append((child, f"{where}[{index}]", key, owner))
        elif isinstance(node, str):
            yield from _string_findings(node, where, key, owner)
        elif _is_int(node) and key in _SHAPE_KEYS and abs(node) >= _ABSURD_DIMENSION:
            yield _absurd(where, f"{key} = {node:,}")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shape_findings(shape: list[Any], where: str) -> Iterator[ScanFinding]:
    dimensions = [d for d in shape if _is_int(d) and d > 0]
    elements = 1
    for dimension in dimensions:
        elements *= dimension
    if len(dimensions) == len([d for d in shape if d is not None]) and elements >= _ABSURD_ELEMENTS:
        yield _absurd(where, f"shape {shape} has {elements:,} elements")


def _absurd(where: str, what: str) -> ScanFinding:
    return ScanFinding(
        "medium",
        "absurd-shape",
        where,
        f"{what}: building it would exhaust memory",
        "do not load this file unless you expect a model this large",
    )


def _string_findings(
    text: str, where: str, key: str | None, owner: str | None
) -> Iterator[ScanFinding]:
    if owner in _VOCABULARY_LAYERS and key in ("vocabulary", "vocabulary_path") and text:
        yield ScanFinding(
            "high",
            "vocabulary-path",
            where,
            f"{owner} reads its vocabulary from {text!r} when built (a local file or URL)",
            "do not load this file; vocabularies belong inside the archive",
        )
    elif "://" in text[:64] and text.split("://", 1)[0].isalpha():
        yield ScanFinding(
            "high",
            "url",
            where,
            f"the config holds a URL: {text[:120]!r}",
            "find out what reads it before loading",
        )
    elif _looks_like_path(text):
        yield ScanFinding(
            "medium",
            "file-path",
            where,
            f"the config holds a file path: {text[:120]!r}",
            "find out what reads it before loading",
        )
    elif len(text) > 64 and text.startswith(_PICKLE_PREFIXES) and key != "code":
        yield ScanFinding(
            "high",
            "pickle",
            where,
            "the config holds what looks like a pickle (base64)",
            "do not load this file",
        )


def _looks_like_path(text: str) -> bool:
    if len(text) > 4096 or " " in text.strip() or "\n" in text:
        return False
    if text.startswith(("/", "~/", "\\\\")) and text.count("/") + text.count("\\") >= 2:
        return True
    if len(text) > 2 and text[1] == ":" and text[2] in "\\/" and text[0].isalpha():
        return True
    return text.startswith(("../", "..\\"))


# --- the weights ----------------------------------------------------------------------------------


def _weights_findings(
    path: str, file_format: str | None, members: dict[str, ZipMember]
) -> list[ScanFinding]:
    from kerascope._reading.hdf5 import H5ReadError
    from kerascope._reading.hdf5_child import audit_h5_isolated

    try:
        if file_format == "h5":
            issues = audit_h5_isolated(path)
        elif file_format == "keras" and "model.weights.h5" in members:
            member = members["model.weights.h5"]
            if member.method != 0:
                return [
                    ScanFinding(
                        "info",
                        "compressed-weights",
                        "member:model.weights.h5",
                        "the weights member is compressed; it was not audited",
                        "Keras writes it uncompressed: find out who repacked it",
                    )
                ]
            from kerascope._reading.archive import member_data_offset

            with open(path, "rb") as handle:
                offset = member_data_offset(handle, member)
            issues = audit_h5_isolated(path, (offset, member.compressed_size))
        elif file_format == "keras-dir" and os.path.isfile(os.path.join(path, "model.weights.h5")):
            issues = audit_h5_isolated(os.path.join(path, "model.weights.h5"))
        else:
            return []
    except (ZipError, OSError, ValueError) as error:
        return [
            ScanFinding(
                "medium",
                "hdf5-unreadable",
                "member:model.weights.h5",
                f"the weights member cannot be read: {error}",
                "the weights cannot be audited; do not load",
            )
        ]
    except H5ReadError as error:
        return [
            ScanFinding(
                "high" if "did not finish" in str(error) or "crashed" in str(error) else "medium",
                "hdf5-unreadable",
                "h5:/",
                str(error),
                "the weights cannot be audited; do not load",
            )
        ]
    return [
        ScanFinding(
            "medium" if issue.code == "hdf5-unreadable" else "high",
            issue.code,
            f"h5:{issue.h5_path}",
            issue.message,
            "do not load: Keras would read outside the file or exhaust memory",
        )
        for issue in issues
    ]
