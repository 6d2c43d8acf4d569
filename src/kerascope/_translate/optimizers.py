"""Keras 2 optimizer configs → Keras 3: class name, module, Keras-2-only keys, ``decay``.

Pure: each function rewrites the dict it is given and returns the rules it applied as
``(rule, detail)`` pairs, which :mod:`.rules` reports.
"""

from __future__ import annotations

from kerascope._common.record import TYPE_CHECKING
from kerascope._reading.keras2_names import KERAS2_OPTIMIZER_MODULES

if TYPE_CHECKING:
    from typing import Any

__all__ = ["OPTIMIZER_RULES", "translate_optimizer"]

OPTIMIZER_RULES = {
    "optimizer-name": ".h5 stores built-in optimizers as `Custom>Adam`; Keras 3 turns that into "
    "a default `Adam()`, dropping hyperparameters and schedules",
    "optimizer-keys": "Keras 3 optimizers reject `jit_compile` and `is_legacy_optimizer`",
    "optimizer-decay": "Keras 2's legacy optimizers divide the learning rate by "
    "(1 + decay * iterations); Keras 3 ignores `decay` with a warning, so training would go on "
    "at the undecayed rate",
}

# Keras 3.15 built-in optimizers: only these lose their "Custom>" prefix or Keras 2 module.
_BUILTIN = frozenset(
    {"Adadelta", "Adafactor", "Adagrad", "Adam", "AdamW", "Adamax", "Ftrl", "Lamb", "Lion",
     "LossScaleOptimizer", "Muon", "Nadam", "RMSprop", "SGD"}
)  # fmt: skip


def translate_optimizer(optimizer: dict[str, Any]) -> list[tuple[str, str]]:
    """Rewrite one optimizer entry (``{"class_name", "config", "module"?}``) in place.

    Example:
        >>> entry = {"module": "keras.optimizers.legacy", "class_name": "SGD",
        ...          "config": {"learning_rate": 0.1, "decay": 0.0, "momentum": 0.9}}
        >>> [rule for rule, _ in translate_optimizer(entry)]
        ['module-path', 'optimizer-decay']
        >>> entry["module"], entry["config"]
        ('keras.optimizers', {'learning_rate': 0.1, 'momentum': 0.9})
    """
    applied: list[tuple[str, str]] = []
    name, module = optimizer.get("class_name"), optimizer.get("module")
    if module in KERAS2_OPTIMIZER_MODULES and name in _BUILTIN:
        optimizer["module"] = "keras.optimizers"
        applied.append(("module-path", f"`{module}.{name}` → Keras 3 `keras.optimizers.{name}`"))
    config = optimizer.get("config")
    if isinstance(name, str) and name.startswith("Custom>") and name[7:] in _BUILTIN:
        optimizer["class_name"] = name = name[7:]
        schedule = isinstance(config, dict) and isinstance(config.get("learning_rate"), dict)
        kept = ", learning-rate schedule kept" if schedule else ", hyperparameters kept"
        applied.append(("optimizer-name", f"optimizer `Custom>{name}` → `{name}`{kept}"))
    if not isinstance(config, dict):
        return applied
    dropped = [key for key in ("jit_compile", "is_legacy_optimizer") if key in config]
    for key in dropped:
        config.pop(key)
    if dropped:
        keys = ", ".join(f"`{key}`" for key in dropped)
        applied.append(("optimizer-keys", f"optimizer {keys} removed"))
    if name in _BUILTIN:
        applied += _decay(config)
    return applied


def _decay(config: dict[str, Any]) -> list[tuple[str, str]]:
    """``decay`` of a Keras 2 legacy optimizer → the same decay as a Keras 3 schedule."""
    if not _is_number(config.get("decay")):
        return []  # absent, or not a number: left for Keras to judge
    decay, rate = float(config["decay"]), config.get("learning_rate")
    if decay == 0:
        config.pop("decay")
        return [("optimizer-decay", "`decay: 0` (no decay) removed")]
    if decay < 0 or not _is_number(rate):
        return []  # a schedule already, or nonsense: not recognised, left for Keras
    config.pop("decay")
    config["learning_rate"] = {
        "module": "keras.optimizers.schedules",
        "class_name": "InverseTimeDecay",
        "config": {
            "initial_learning_rate": rate,
            "decay_steps": 1,
            "decay_rate": decay,
            "staircase": False,
            "name": "InverseTimeDecay",
        },
        "registered_name": None,
    }
    detail = (
        f"`decay: {decay:g}` → learning rate InverseTimeDecay({rate:g}, decay_steps=1, "
        f"decay_rate={decay:g}): {rate:g} / (1 + {decay:g} * step), as Keras 2 applied it"
    )
    return [("optimizer-decay", detail)]


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)
