"""Typed, checked method parameters.

A method declares what each parameter may be next to its ``__init__``::

    param_checks = {"epochs": at_least(1), "lr_head": positive(), "backbone": timm_model()}
    param_relations = (no_larger("crop", "patch_size"),)

:func:`convert` turns the text of ``--set NAME=VALUE`` into the type that
``__init__`` annotates (int, float, bool, str, tuples, ``X | None``), and
:func:`check_params` checks a full parameter set (a profile, overrides from
the command line or from Python) against the annotations and the declared
checks; both raise :class:`ParameterError` with a one-line message naming
the parameter, the value and what is allowed.
"""
from __future__ import annotations

import ast
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lidcbench.errors import ParameterError

_NONE_WORDS = ("none", "null")
_TRUE_WORDS, _FALSE_WORDS = ("true", "yes", "1", "on"), ("false", "no", "0", "off")


@dataclass(frozen=True)
class Check:
    """``test(value)`` is True for allowed values; ``allowed`` says which in words."""

    test: Callable[[Any], bool]
    allowed: str


@dataclass(frozen=True)
class Relation:
    """A check on several parameters together (``test`` takes them in ``names`` order)."""

    names: tuple[str, ...]
    test: Callable[..., bool]
    allowed: str


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and not math.isnan(value)


def at_least(low: float) -> Check:
    return Check(lambda v: _number(v) and v >= low, f">= {low:g}")


def positive() -> Check:
    return Check(lambda v: _number(v) and v > 0, "> 0")


def between(low: float, high: float, open_low: bool = False) -> Check:
    """``low <= value <= high`` (``low < value`` with ``open_low``)."""
    if open_low:
        return Check(lambda v: _number(v) and low < v <= high, f"in ({low:g}, {high:g}]")
    return Check(lambda v: _number(v) and low <= v <= high, f"between {low:g} and {high:g}")


def one_of(*values: Any) -> Check:
    return Check(lambda v: v in values, "one of " + ", ".join(map(str, values)))


def optional(check: Check) -> Check:
    """``check``, or None."""
    return Check(lambda v: v is None or check.test(v), f"None or {check.allowed}")


def each(check: Check, increasing: bool = False) -> Check:
    """Every item of a tuple passes ``check`` (and, with ``increasing``, they rise strictly)."""
    def test(values: Any) -> bool:
        items = list(values)
        rising = all(a < b for a, b in zip(items, items[1:])) if increasing else True
        return all(check.test(item) for item in items) and rising

    return Check(test, f"items {check.allowed}" + (", increasing" if increasing else ""))


def device_name() -> Check:
    pattern = re.compile(r"auto|cpu|mps|cuda(:\d+)?")
    return Check(lambda v: isinstance(v, str) and pattern.fullmatch(v) is not None, "auto, cpu, cuda or cuda:N")


def timm_model() -> Check:
    def test(value: Any) -> bool:
        import timm

        return isinstance(value, str) and timm.is_model(value)

    return Check(test, "a timm model name (`python -c \"import timm; print(timm.list_models('resnet*'))\"`)")


def weights_choice() -> Check:
    """``pretrained``: auto (timm's local cache, else random), none, download (opt-in) or a file path."""
    return Check(lambda v: isinstance(v, str) and v != "", "auto, none, download or a weights file path")


def no_larger(smaller: str, larger: str) -> Relation:
    return Relation((smaller, larger), lambda a, b: a is None or b is None or a <= b, f"{smaller} <= {larger}")


def annotations(method_class: type) -> dict[str, Any]:
    """Parameter name -> the type its ``__init__`` declares (the class that declares it wins)."""
    found: dict[str, Any] = {}
    for klass in reversed(method_class.__mro__):
        init = vars(klass).get("__init__")
        if init is None or klass is object:
            continue
        try:
            hints = typing.get_type_hints(init)
        except Exception:  # an annotation that cannot be evaluated: the value stays as given
            hints = {}
        found.update({name: hint for name, hint in hints.items() if name != "return"})
    return found


def _union_members(kind: Any) -> tuple[Any, ...] | None:
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        return typing.get_args(kind)
    return None


def _describe(kind: Any) -> str:
    members = _union_members(kind)
    if members:
        return " or ".join(_describe(m) for m in members)
    if kind is type(None):
        return "None"
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        return f"a tuple of {_describe(args[0])}" if args else "a tuple"
    names = {int: "an integer", float: "a number", bool: "true or false", str: "text"}
    return names.get(kind, getattr(kind, "__name__", str(kind)))


def _from_text(text: str, kind: Any) -> Any:
    """``text`` as ``kind``; ValueError when it is not one."""
    stripped = text.strip()
    members = _union_members(kind)
    if members:
        if type(None) in members and stripped.lower() in _NONE_WORDS:
            return None
        for member in (m for m in members if m is not type(None)):
            try:
                return _from_text(text, member)
            except ValueError:
                continue
        raise ValueError(text)
    if kind is bool:
        if stripped.lower() in _TRUE_WORDS:
            return True
        if stripped.lower() in _FALSE_WORDS:
            return False
        raise ValueError(text)
    if kind is int:
        return int(stripped)  # "1.5" and "abc" raise
    if kind is float:
        return float(stripped)
    if kind is str:
        return text
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        item = args[0] if args else Any
        inner = stripped[1:-1] if stripped[:1] in "([" and stripped[-1:] in ")]" else stripped
        parts = [p for p in inner.split(",") if p.strip()]
        return tuple(_from_text(p, item) for p in parts)
    try:  # no usable annotation: a Python literal, else the text itself
        return ast.literal_eval(stripped)
    except (ValueError, SyntaxError):
        return text


def _fits(value: Any, kind: Any) -> bool:
    """Whether a value given from Python (or a profile) has the annotated type."""
    members = _union_members(kind)
    if members:
        return any(_fits(value, m) for m in members)
    if kind is type(None):
        return value is None
    if kind is bool:
        return isinstance(value, bool)
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if kind is str:
        return isinstance(value, str)
    if typing.get_origin(kind) is tuple:
        args = typing.get_args(kind)
        return isinstance(value, (tuple, list)) and (not args or all(_fits(v, args[0]) for v in value))
    return True  # Any, or a type this module does not know


def convert(method_class: type, name: str, text: str, method: str = "") -> Any:
    """The ``--set`` text of parameter ``name`` as the type ``__init__`` declares."""
    kind = annotations(method_class).get(name, Any)
    try:
        return _from_text(text, kind)
    except ValueError:
        raise ParameterError(f"{_who(method)}parameter {name}={text!r} is not {_describe(kind)}.") from None


def check_params(method_class: type, params: Mapping[str, Any], method: str = "") -> dict[str, Any]:
    """``params`` with tuples as tuples, after checking types, declared checks and relations.

    Raises :class:`ParameterError` on the first parameter that breaks one.
    """
    kinds = annotations(method_class)
    checked = dict(params)
    for name, value in params.items():
        kind = kinds.get(name, Any)
        if not _fits(value, kind):
            raise ParameterError(f"{_who(method)}parameter {name}={value!r} is not {_describe(kind)}.")
        if isinstance(value, list) and typing.get_origin(kind) is tuple:
            checked[name] = tuple(value)  # JSON round trips turn tuples into lists
        check = param_checks(method_class).get(name)
        if check is not None and not check.test(checked[name]):
            raise ParameterError(f"{_who(method)}parameter {name}={value!r} is not allowed: {check.allowed}.")
    full = {**defaults(method_class), **checked}  # a relation reads a parameter left at its default too
    for relation in param_relations(method_class):
        if all(n in full for n in relation.names) and not relation.test(*(full[n] for n in relation.names)):
            values = ", ".join(f"{n}={full[n]!r}" for n in relation.names)
            raise ParameterError(f"{_who(method)}parameters {values} are not allowed: {relation.allowed}.")
    return checked


def defaults(method_class: type) -> dict[str, Any]:
    """Parameter name -> its ``__init__`` default (a variant's own default wins)."""
    import inspect

    found: dict[str, Any] = {}
    for klass in reversed(method_class.__mro__):
        if "__init__" in vars(klass) and klass is not object:
            found.update({p.name: p.default for p in inspect.signature(klass.__init__).parameters.values()
                          if p.default is not inspect.Parameter.empty and p.name != "self"})
    names = set(method_class.param_names()) if hasattr(method_class, "param_names") else set(found)
    return {name: value for name, value in found.items() if name in names}


def param_checks(method_class: type) -> dict[str, Check]:
    return dict(getattr(method_class, "param_checks", {}) or {})


def param_relations(method_class: type) -> tuple[Relation, ...]:
    return tuple(getattr(method_class, "param_relations", ()) or ())


def refused_parameter(error: BaseException, params: Mapping[str, Any], method: str = "") -> ParameterError | None:
    """``error``, raised by a method's ``__init__`` or ``fit``, as a one-line :class:`ParameterError` when it
    is about a parameter value, else None.

    About a parameter: scikit-learn's ``InvalidParameterError`` (the method's own library checking what it
    was given), or a ``ValueError`` whose message names one of ``params``. The method needs no declarations
    for this; declared checks (``param_checks``) catch the same values before any work starts.
    """
    if not isinstance(error, ValueError) or isinstance(error, ParameterError):
        return None
    message = (str(error).strip().splitlines() or [type(error).__name__])[0]
    named = [name for name in params if re.search(rf"(?<![\w]){re.escape(name)}(?![\w])", message)]
    from_library = type(error).__name__ == "InvalidParameterError"
    if not named and not from_library:
        return None
    what = ", ".join(f"{name}={params[name]!r}" for name in named) if named else "a parameter value"
    return ParameterError(f"{_who(method)}{what} refused by the method: {message} "
                          "(--debug shows the traceback)")


def _who(method: str) -> str:
    return f"method {method!r}: " if method else ""
