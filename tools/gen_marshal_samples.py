"""Write marshalled code objects, and what this Python says about them, as JSON on stdout.

Run it with each CPython to test ``kerascope._reading.marshal_code`` against (3.6 or later; it
uses only the standard library and runs nothing but ``marshal.dumps`` on functions it defines)::

    python3.9 tools/gen_marshal_samples.py > tests/data/marshal_code/3.9.json

``tests/test_marshal_code.py`` reads every file of that folder, and runs this script itself with
every other CPython it finds on the machine.
"""

import base64
import json
import marshal
import sys


def double_plus_one(x):
    return tf.multiply(x, 2.0) + 1.0  # noqa: F821 (a Lambda's global, never called here)


def with_closure(scale):
    def inner(x, *args, bias=0.5, **kwargs):
        return [v * scale + bias for v in (x, *args)]

    return inner


def calls_os(x):
    import os

    os.system("true")
    # What a hostile Lambda reads; never called here.
    return __import__("subprocess").run(["true"]), getattr(x, "shape"), eval("1")  # noqa: B009


def constants(x):
    big = 2**100 - 7
    negative = -(2**70)
    values = (1.5, -0.0, 3j + 1, b"\x00\xff", "\u00e9t\u00e9 \u2603", None, True, False, ...)
    words = frozenset({"a", "b"})
    long_text = "x" * 300
    nested = ((1, (2, (3, (4,)))), ())
    return big, negative, values, words, long_text, nested, x


SAMPLES = {
    "lambda": lambda x: tf.abs(x) * 2.0,  # noqa: F821
    "named": double_plus_one,
    "closure": with_closure(3.0),
    "dangerous": calls_os,
    "constants": constants,
}


def normalize(value):
    """A JSON form of a constant that any Python 3 and the reader's records agree on."""
    if hasattr(value, "co_name"):
        return {"code": value.co_name}
    if isinstance(value, (tuple, list)):
        return [normalize(item) for item in value]
    if isinstance(value, (set, frozenset)):
        return {"set": sorted(json.dumps(normalize(item)) for item in value)}
    return {"repr": repr(value)}


def facts(code):
    return {
        "name": code.co_name,
        "qualname": getattr(code, "co_qualname", None),
        "filename": code.co_filename,
        "first_line": code.co_firstlineno,
        "argcount": code.co_argcount,
        "kwonly_argcount": code.co_kwonlyargcount,
        "flags": code.co_flags,
        "names": list(code.co_names),
        "local_names": list(code.co_varnames),
        "free_names": list(code.co_freevars),
        "constants": normalize(code.co_consts),
        "nested": [facts(c) for c in code.co_consts if hasattr(c, "co_name")],
    }


def main():
    samples = {}
    for label, function in SAMPLES.items():
        code = function.__code__
        samples[label] = {
            "base64": base64.b64encode(marshal.dumps(code)).decode("ascii"),
            "facts": facts(code),
        }
    document = {"python": sys.version.split()[0], "samples": samples}
    print(json.dumps(document, indent=1, sort_keys=True))


if __name__ == "__main__":
    main()
