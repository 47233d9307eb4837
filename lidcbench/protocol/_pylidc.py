"""Import pylidc 0.2.3 on current Python and numpy.

pylidc 0.2.3 (the last release) predates two removals:

* ``pkg_resources`` (gone from setuptools >= 81, absent from fresh
  environments) is imported only to find the bundled ``pylidc.sqlite``; a
  stand-in built on :mod:`importlib.resources` is put in place for the
  duration of that import and removed afterwards, so no other package sees it.
* numpy 2 removed the aliases ``np.int`` and ``np.float`` that pylidc's mask
  and contour code uses at call time; they are restored as the builtins they
  always were. ``np.bool`` exists again in numpy 2 and is left alone.
* ``configparser.SafeConfigParser`` (removed in Python 3.12), which
  ``Scan.get_path_to_dicom_files`` uses to read ``~/.pylidcrc``; pylidc's
  ``Scan`` module alone gets a ``configparser`` whose SafeConfigParser is
  ConfigParser.

Everything in lidcbench imports pylidc through :func:`load`.
"""
from __future__ import annotations

import configparser
import importlib
import importlib.resources
import sys
import types
import warnings
from functools import lru_cache

import numpy as np

_REMOVED_NUMPY_ALIASES = {"int": int, "float": float, "bool": bool}


def _restore_numpy_aliases() -> None:
    for name, builtin in _REMOVED_NUMPY_ALIASES.items():
        if name not in np.__dict__:
            setattr(np, name, builtin)


def _pkg_resources_stand_in() -> types.ModuleType:
    module = types.ModuleType("pkg_resources")

    def resource_filename(package: str, resource: str) -> str:
        return str(importlib.resources.files(package).joinpath(resource))

    module.resource_filename = resource_filename
    return module


def _give_scan_a_config_parser(scan_module: types.ModuleType) -> None:
    shim = types.ModuleType("configparser")
    shim.__dict__.update(configparser.__dict__)
    shim.SafeConfigParser = configparser.ConfigParser
    scan_module.configparser = shim


@lru_cache(maxsize=1)
def load() -> types.ModuleType:
    """Return the imported ``pylidc`` module, patched as described above."""
    _restore_numpy_aliases()
    installed = importlib.util.find_spec("pkg_resources") is not None
    if not installed:
        sys.modules["pkg_resources"] = _pkg_resources_stand_in()
    try:
        with warnings.catch_warnings():
            # SQLAlchemy 2 warns that pylidc's declarative_base moved; harmless.
            warnings.simplefilter("ignore")
            pylidc = importlib.import_module("pylidc")
        _give_scan_a_config_parser(sys.modules["pylidc.Scan"])
        return pylidc
    finally:
        if not installed:
            sys.modules.pop("pkg_resources", None)
