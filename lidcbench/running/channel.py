"""What the runner accepts back from a method's process: plain data, never code.

Unpickling runs whatever the pickle names, so a method that handed the runner
an object of its own making would run code in the runner, which holds every
label, outside the wall. :func:`safe_loads` unpickles only the types a fold's
outcome is made of: Python's plain values, NumPy arrays and scalars, the
pandas pieces of a predictions table, :class:`~.isolation.Fitted`, and the
exceptions of Python, sqlite3 and :mod:`lidcbench.errors` (the child turns any
other exception into a :class:`~lidcbench.errors.PluginError` carrying its text).
"""
from __future__ import annotations

import builtins
import io
import pickle

from lidcbench.errors import PluginError

EXCEPTION_MODULES = ("builtins", "lidcbench.errors", "sqlite3")
_PLAIN = {("builtins", name) for name in ("slice", "set", "frozenset", "complex", "bytearray", "range")}
_NUMPY = {(module, name) for module in ("numpy.core.multiarray", "numpy._core.multiarray")
          for name in ("_reconstruct", "scalar")} | {
    ("numpy", "dtype"), ("numpy", "ndarray"), ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer")}
_PANDAS = {("pandas", name) for name in ("Categorical", "CategoricalDtype", "DataFrame", "Index", "NA", "RangeIndex",
                                         "StringDtype", "Series")} | {
    ("pandas._libs.arrays", "__pyx_unpickle_NDArrayBacked"), ("pandas._libs.internals", "_unpickle_block"),
    ("pandas.arrays", "StringArray"), ("pandas.core.indexes.base", "_new_Index"),
    ("pandas.core.internals.managers", "BlockManager"), ("pandas.core.internals.managers", "SingleBlockManager"),
    ("pandas.core.series", "Series"), ("pandas.core.frame", "DataFrame")}
_OURS = {("lidcbench.running.isolation", "Fitted")}
ALLOWED = _PLAIN | _NUMPY | _PANDAS | _OURS


class _PlainUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) in ALLOWED or _is_exception(module, name) or module.startswith("numpy.dtypes"):
            return super().find_class(module, name)
        raise PluginError(f"the method's process returned a {module}.{name}, which the runner does not unpickle: "
                          "predictions must be a table of plain columns, parameters plain values.")


def _is_exception(module: str, name: str) -> bool:
    if module not in EXCEPTION_MODULES:
        return False
    import importlib

    value = getattr(importlib.import_module(module), name, None) if module != "builtins" else getattr(builtins, name,
                                                                                                       None)
    return isinstance(value, type) and issubclass(value, BaseException)


def safe_loads(data: bytes):
    """Unpickle ``data`` allowing only the types of a fold's outcome (see the module's notes)."""
    return _PlainUnpickler(io.BytesIO(data)).load()


def is_portable_exception(error: BaseException) -> bool:
    """Whether the runner will take ``error`` back as it is (else the child sends its text)."""
    return type(error).__module__ in EXCEPTION_MODULES
