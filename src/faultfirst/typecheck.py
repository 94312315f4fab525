"""Type-checking a function defined in a notebook, from Python: what mypy says about it, one line per error.

The lesson "Errors as types" makes a missing case a type error the learner sees in the notebook's output,
and its check holds the learner's code to the same standard. mypy reads files, and a notebook function has
no file of its own, so `type_errors` writes one: the function's source (and that of the notebook functions it
calls), after a header that declares the notebook's classes and aliases the code names, as the kernel holds
them. Modules and everything imported from a package are left to mypy as imports it does not follow
(`Any`): the SDKs' types would cost seconds to read, and the question asked is about the learner's own code.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import re
import tempfile
import textwrap
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

# Imported here, not on the first check: mypy.api.run imports mypy's build machinery (about 0.2 s), and a
# lesson's setup cell, which imports this module, is where that belongs. Nothing else imports this module.
import mypy.main  # noqa: F401
from mypy import api

# mypy keeps what it learnt about the standard library's stubs here between runs, so a check after the first in
# a machine's life reads a cache instead of typeshed (about 0.1 s instead of 0.7 s).
MYPY_CACHE = Path(tempfile.gettempdir()) / "faultfirst-mypy-cache"
MYPY_FLAGS = (
    "--follow-imports=skip",  # an SDK is Any to this check: only the learner's own code is read (fast)
    "--ignore-missing-imports",
    "--disallow-untyped-defs",  # an unannotated function is not checked at all, so it must not pass
    "--disallow-incomplete-defs",
    "--warn-unreachable",
    "--no-error-summary",
    "--hide-error-context",
    "--no-color-output",
    "--show-error-codes",
    "--python-version=3.11",
)


def type_errors(fn: Callable[..., Any], *, names: Mapping[str, Any] | None = None) -> list[str]:
    """What mypy says about `fn`: its source (and that of the notebook functions it calls) as a module, after a
    header that declares the notebook's classes and aliases it names; one line per error, by function and line.

    `names` overrides what a name means to the type checker (`names={"Extraction": Extraction | Failed}` asks
    "and if the union had one more member?") without rebinding it in the notebook.
    """
    header, parts = _module(fn, {**fn.__globals__, **(names or {})})
    code = header + "".join(source for _, source in parts)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "learner.py"
        path.write_text(code)
        out, err, _ = api.run([*MYPY_FLAGS, f"--cache-dir={MYPY_CACHE}", str(path)])
    starts, line = [], header.count("\n") + 1
    for name, source in parts:
        starts.append((line + 2, name))  # each part opens with two blank lines
        line += source.count("\n")
    errors = []
    for found in re.finditer(r"^.*?learner\.py:(\d+): error: (.*)$", out + err, re.MULTILINE):
        number, message = int(found[1]), found[2]
        owner = [(start, name) for start, name in starts if start <= number]
        where = f"`{owner[-1][1]}`, line {number - owner[-1][0] + 1}" if owner else f"line {number}"
        errors.append(f"{where}: {message}")
    return errors


def _module(fn: Callable[..., Any], namespace: Mapping[str, Any]) -> tuple[str, list[tuple[str, str]]]:
    """`fn` as mypy can read it: a header (imports, the notebook's classes and aliases it names, other names as
    Any) and the source of `fn` and of every notebook function it reaches, each with its name."""
    home = fn.__module__
    declared: dict[str, str] = {}
    parts: list[tuple[str, str]] = []
    pending, seen = [fn], set()
    while pending:
        function = pending.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        source = textwrap.dedent(inspect.getsource(function))
        parts.append((function.__name__, "\n\n" + source))
        for name in sorted(_names(source)):
            if name in declared or name not in namespace or name == function.__name__:
                continue
            value = namespace[name]
            if inspect.isfunction(value) and value.__module__ == home:
                pending.append(value)
            else:
                _declare(name, value, home, declared)
    imports = "from __future__ import annotations\nimport dataclasses\nimport typing\nfrom typing import Any\n\n"
    header = imports + "\n".join(declared.values()) + "\n"
    return header, parts


def _names(source: str) -> set[str]:
    """Every name the code reads (annotations included)."""
    return {node.id for node in ast.walk(ast.parse(source)) if isinstance(node, ast.Name)}


def _declare(name: str, value: Any, home: str, declared: dict[str, str]) -> None:
    """Add what mypy needs to know about `name` to `declared`: the notebook's own classes as classes with their
    fields (first the classes those fields name), a union alias as itself, a module or a package's name as an
    import, anything else as Any."""
    declared[name] = ""  # claimed first: a class whose fields name it again must not recurse forever
    if isinstance(value, types.ModuleType):
        text = f"import {value.__name__} as {name}"
    elif _is_union(value):
        text = f"{name} = {_annotation(value, home, declared)}"
    elif isinstance(value, type) and value.__module__ == home:
        text = _class(value, home, declared)
    elif getattr(value, "__module__", None) and getattr(value, "__qualname__", "").isidentifier():
        text = f"from {value.__module__} import {value.__qualname__} as {name}"
    else:
        text = f"{name}: Any"
    del declared[name]  # and declared last: after the classes an alias or a base names, which run-time code needs
    declared[name] = text


def _is_union(value: Any) -> bool:
    return isinstance(value, types.UnionType) or typing.get_origin(value) is typing.Union


def _class(cls: type, home: str, declared: dict[str, str]) -> str:
    """A notebook class as mypy should see it: a dataclass with its fields, a pydantic model with its fields, else
    a class with its annotations; its bases from a package are imported, so a subclass of Exception is one."""
    if dataclasses.is_dataclass(cls):
        fields = {f.name: f.type for f in dataclasses.fields(cls)}
        frozen = cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
        decorator = f"@dataclasses.dataclass(frozen={frozen})\n"
    else:
        fields = {name: f.annotation for name, f in getattr(cls, "model_fields", {}).items()} or dict(
            getattr(cls, "__annotations__", {}))
        decorator = ""
    bases = []
    for base in cls.__bases__:
        if base is object:
            continue
        if base.__module__ == home:
            if base.__name__ not in declared:
                _declare(base.__name__, base, home, declared)
            bases.append(base.__name__)
        elif base.__module__ == "builtins":
            bases.append(base.__name__)
        else:
            alias = f"_{base.__name__}"
            bases.append(alias)
            declared.setdefault(alias, f"from {base.__module__} import {base.__name__} as {alias}")
    body = "".join(f"    {name}: {_annotation(kind, home, declared)}\n" for name, kind in fields.items())
    body = body or "    pass\n"
    return f"{decorator}class {cls.__name__}{'(' + ', '.join(bases) + ')' if bases else ''}:\n{body}"


def _annotation(kind: Any, home: str, declared: dict[str, str]) -> str:
    """A runtime annotation as source; a notebook class it names is declared too."""
    if kind is None or kind is type(None):
        return "None"
    if isinstance(kind, str):
        return kind
    if _is_union(kind):
        return " | ".join(_annotation(arg, home, declared) for arg in typing.get_args(kind))
    if typing.get_origin(kind) is typing.Literal:
        return f"typing.Literal[{', '.join(repr(arg) for arg in typing.get_args(kind))}]"
    if typing.get_origin(kind) is not None:
        args = ", ".join(_annotation(arg, home, declared) for arg in typing.get_args(kind))
        return f"{_annotation(typing.get_origin(kind), home, declared)}[{args}]"
    if isinstance(kind, type):
        if kind.__module__ == "builtins":
            return kind.__name__
        if kind.__name__ not in declared:
            _declare(kind.__name__, kind, home, declared)
        return kind.__name__
    return "Any"
