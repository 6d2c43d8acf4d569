"""Every Lambda bytecode a model config holds, found and read as data (nothing is run).

Two forms hold bytecode: Keras 2 (tf.keras / tf-keras) writes a Lambda's function as
``[base64 marshal, defaults, closure]`` with ``function_type: "lambda"`` and the ``module`` the
function came from (also for a named module function: tf-keras marshals every Python function);
Keras 3 writes ``{"class_name": "__lambda__", "config": {"code", "defaults", "closure"}}``. Each
is read with :mod:`.marshal_code`; its JSON path is the one :mod:`.references` gives the
``lambda`` reference.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING, Record

from .marshal_code import BytecodeError, CodeFacts, read_base64_code

if TYPE_CHECKING:
    from typing import Any

__all__ = ["LambdaCode", "find_lambda_code"]

# Keras 2 Lambda keys: the bytecode, and the key recording whether it is bytecode and its module.
_KERAS2_SLOTS = (
    ("function", "function_type", "module"),
    ("output_shape", "output_shape_type", "output_shape_module"),
)


class LambdaCode(Record):
    """One Lambda bytecode in a config, read as data.

    Attributes:
        json_path: Where it sits: ``$.config.layers[1].config.function``.
        module: The module Keras 2 recorded for the function (``"k2objects"``,
            ``"__main__"``); None for Keras 3, which records none.
        keras2: True for the Keras 2 ``[code, defaults, closure]`` form.
        has_closure: A closure is stored with the bytecode.
        facts: What the code object says, or None when it cannot be read.
        error: Why it cannot be read.
    """

    json_path: str
    module: str | None
    keras2: bool
    has_closure: bool
    facts: CodeFacts | None
    error: str | None = None

    @property
    def described(self) -> str:
        """The function in words: ``function `double_plus_one` (module k2objects)``.

        Example:
            >>> LambdaCode("$", "k2objects", True, False, None, "bad").described
            'bytecode kerascope cannot read'
        """
        if self.facts is None:
            return "bytecode kerascope cannot read"
        if not self.facts.is_named_function:
            return f"a Python lambda (`{self.facts.name}`)"
        where = f" (module {self.module})" if self.module else ""
        return f"function `{self.facts.name}`{where}"


def find_lambda_code(config: Any) -> list[LambdaCode]:
    """Every Lambda bytecode in ``config`` (a model config), in order, each read as data.

    Example:
        >>> from kerascope._reading.marshal_code import _EXAMPLE
        >>> layer = {"class_name": "Lambda", "config": {"function": [_EXAMPLE, None, None],
        ...          "function_type": "lambda", "module": "__main__"}}
        >>> [(c.json_path, c.module, c.facts.all_names) for c in find_lambda_code(layer)]
        [('$.config.function', '__main__', ('tf', 'abs'))]
    """
    found: list[LambdaCode] = []
    stack: list[tuple[Any, str]] = [(config, "$")]
    while stack:
        node, path = stack.pop()
        if isinstance(node, list):
            stack.extend(
                (item, f"{path}[{index}]") for index, item in reversed(list(enumerate(node)))
            )
            continue
        if not isinstance(node, dict):
            continue
        inner = node.get("config")
        if node.get("class_name") == "__lambda__" and isinstance(inner, dict):
            closure = inner.get("closure")
            found.append(_read(path, None, False, closure, inner.get("code")))
            continue
        if node.get("class_name") == "Lambda" and isinstance(inner, dict):
            found += _keras2_slots(inner, f"{path}.config")
        children = [(value, _join(path, str(key))) for key, value in node.items()]
        stack.extend(reversed(children))
    return found


def _keras2_slots(inner: dict[str, Any], path: str) -> list[LambdaCode]:
    found = []
    for slot, type_key, module_key in _KERAS2_SLOTS:
        value = inner.get(slot)
        if not (isinstance(value, list) and value and isinstance(value[0], str)):
            continue
        if inner.get(type_key, "lambda") != "lambda":
            continue
        module = inner.get(module_key)
        closure = value[2] if len(value) > 2 else None
        found.append(
            _read(
                _join(path, slot), module if isinstance(module, str) else None, True, closure,
                value[0],
            )
        )  # fmt: skip
    return found


def _read(path: str, module: str | None, keras2: bool, closure: Any, code: Any) -> LambdaCode:
    has_closure = closure is not None and closure != []
    try:
        facts = read_base64_code(code)
    except BytecodeError as error:
        return LambdaCode(path, module, keras2, has_closure, None, error.problem)
    return LambdaCode(path, module, keras2, has_closure, facts)


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if key.isidentifier() else f"{path}[{key!r}]"
