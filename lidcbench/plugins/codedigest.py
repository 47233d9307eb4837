"""A digest of a method's code, so that a record made by other code than today's can be told apart.

The code of a method is the module that defines its class (and its base
classes), the modules of the method's own package that it reaches through
its imports, and lidcbench's shared training code it reaches the same way
(:data:`SHARED`), less the modules that only keep state between epochs
(:data:`NOT_COMPUTATION`). Each module counts by its syntax tree without docstrings,
so editing a comment or a docstring leaves the digest as it was; anything
that can change what the method computes changes it.
"""
from __future__ import annotations

import ast
import hashlib
import inspect
import sys
from functools import lru_cache
from types import ModuleType

SHARED = ("lidcbench.training",)  # shared code a method's predictions depend on (the torch training loop)
# Reached, but not what a method computes: saving and restoring the state between epochs (a resumed fit
# equals an uninterrupted one, tests/test_checkpoints.py), so a change to how checkpoints are kept does
# not make every torch record "older code". A checkpoint's own identity covers this module.
NOT_COMPUTATION = ("lidcbench.training.checkpoints",)
DIGEST_LENGTH = 12


def _within(name: str, packages: tuple[str, ...]) -> bool:
    return any(name == package or name.startswith(package + ".") for package in packages)


def code_modules(method_class: type) -> list[ModuleType]:
    """The modules whose code makes up ``method_class``, sorted by name."""
    home = method_class.__module__.rpartition(".")[0] or method_class.__module__
    packages = (home, *SHARED)
    found: dict[str, ModuleType] = {}
    waiting = [cls.__module__ for cls in method_class.__mro__ if _within(cls.__module__, packages)]
    while waiting:
        name = waiting.pop()
        module = sys.modules.get(name)
        if name in found or name in NOT_COMPUTATION or module is None or not getattr(module, "__file__", None):
            continue
        found[name] = module
        for value in vars(module).values():
            reached = value.__name__ if isinstance(value, ModuleType) else getattr(value, "__module__", None)
            if isinstance(reached, str) and _within(reached, packages) and reached not in found:
                waiting.append(reached)
    return [found[name] for name in sorted(found)]


def _without_docstrings(tree: ast.AST) -> ast.AST:
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            node.body = body[1:] or [ast.Pass()]
    return tree


@lru_cache(maxsize=None)
def method_code_digest(method_class: type) -> str:
    """The first :data:`DIGEST_LENGTH` hex digits of a SHA-256 over :func:`code_modules`' code."""
    digest = hashlib.sha256()
    for module in code_modules(method_class):
        digest.update(_code_text(module))
    return digest.hexdigest()[:DIGEST_LENGTH]


def module_code_digest(module: ModuleType) -> str:
    """One module's digest, counted as :func:`method_code_digest` counts each module (a checkpoint's identity
    covers the checkpoint module this way, which a method's digest leaves out)."""
    return hashlib.sha256(_code_text(module)).hexdigest()[:DIGEST_LENGTH]


def _code_text(module: ModuleType) -> bytes:
    tree = _without_docstrings(ast.parse(inspect.getsource(module)))
    return f"{module.__name__}\n{ast.dump(tree)}\n".encode()


def registered_code_digest(name: str, registry=None) -> str | None:
    """Today's digest of the method registered as ``name``; None if no such method is installed here."""
    from lidcbench.errors import PluginError, RegistryError

    from .registry import default_registry

    try:
        method_class = (registry or default_registry()).get(name)
    except (RegistryError, PluginError):
        return None
    return method_code_digest(method_class) if isinstance(method_class, type) else None
