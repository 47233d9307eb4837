"""Method names -> method classes, built-in and third-party.

A leaf module: it imports no method. Built-ins are "module:attr" strings,
imported only when asked for. Third-party methods come from the
``lidcbench.methods`` entry-point group, loaded only when asked for (or
listed); ``LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD=1`` switches discovery off.
"""
from __future__ import annotations

import difflib
import importlib
import os
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points

from lidcbench.errors import PluginError, RegistryError

ENTRY_POINT_GROUP = "lidcbench.methods"
DISABLE_PLUGINS_ENV = "LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD"

# name -> ("module:attr", one-line description). Descriptions live here so
# `lidcbench list` needs no import.
BUILTINS: dict[str, tuple[str, str]] = {
    "diameter": ("lidcbench.baselines.diameter:DiameterMethod",
                 "Logistic regression on the readers' mean diameter (annotation-derived) alone: what size tells."),
    "lasso": ("lidcbench.baselines.linear:LassoMethod",
              "Lasso regression per rating on intensity, texture and shape features of the patches."),
    "elastic-net": ("lidcbench.baselines.linear:ElasticNetMethod",
                    "Elastic-net regression per rating on intensity, texture and shape features of the patches."),
    "shape3d": ("lidcbench.baselines.shape3d:Shape3dMethod",
                "Logistic regression on 3D shape features (volume, surface, sphericity, ...) of the nodule's cube."),
    "cnn3d": ("lidcbench.baselines.cnn3d:Cnn3dMethod",
              "3D ResNet on the nodule's 1 mm cube (narrow on the CPU, torchvision's R3D-18 on a GPU)."),
    "cnn25d": ("lidcbench.baselines.cnn25d:Cnn25dMethod",
               "Three orthogonal planes through the nodule's cube as the channels of a 2D timm ResNet (2.5D)."),
    "cnn": ("lidcbench.baselines.cnn:CnnMethod",
            "Plain timm ResNet classifier of malignancy: the paper's single-task reference point."),
    "mtmr": ("lidcbench.methods.mtmr:Mtmr",
             "MTMR-Net: multi-task ResNet (malignancy + 8 attributes), margin ranking loss on Siamese pairs."),
    "mtmr-reg": ("lidcbench.methods.mtmr:MtmrReg", "MTMR-Net ablation: cross-entropy + attribute regression, no ranking."),
    "mtmr-rank": ("lidcbench.methods.mtmr:MtmrRank", "MTMR-Net ablation: cross-entropy + ranking, no attribute regression."),
    "tiny": ("lidcbench.testing.tiny:TinyMethod",
             "Two patch statistics into linear models; for fast end-to-end tests, not a baseline."),
    "tiny-net": ("lidcbench.testing.tinynet:TinyNetMethod",
                 "Two patch statistics into a logistic unit trained over epochs; for checkpoint tests, not a baseline."),
}


@dataclass(frozen=True)
class Entry:
    name: str
    target: str  # "module:attr"
    origin: str  # "built-in" or "plugin (distribution)"
    description: str | None = None
    entry_point: EntryPoint | None = None


def _load_target(target: str):
    module_name, _, attr = target.partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, attr)


def _plugin_entries() -> list[Entry]:
    if os.environ.get(DISABLE_PLUGINS_ENV, "").strip() not in ("", "0"):
        return []
    entries = []
    for point in entry_points(group=ENTRY_POINT_GROUP):
        distribution = point.dist.name if point.dist is not None else "unknown distribution"
        entries.append(Entry(point.name, point.value, f"plugin ({distribution})", entry_point=point))
    return entries


class Registry:
    def __init__(self, builtins: dict[str, tuple[str, str]] | None = None, discover_plugins: bool = True):
        entries = [Entry(name, target, "built-in", description)
                   for name, (target, description) in (BUILTINS if builtins is None else builtins).items()]
        if discover_plugins:
            entries += _plugin_entries()
        self._entries: dict[str, Entry] = {}
        for entry in entries:
            if entry.name in self._entries:
                other = self._entries[entry.name]
                raise RegistryError(
                    f"method name {entry.name!r} is registered twice: by {other.origin} ({other.target}) and by "
                    f"{entry.origin} ({entry.target}). Rename one, or uninstall the plugin, or set "
                    f"{DISABLE_PLUGINS_ENV}=1."
                )
            self._entries[entry.name] = entry

    def names(self) -> list[str]:
        return sorted(self._entries)

    def entry(self, name: str) -> Entry:
        if name not in self._entries:
            close = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
            hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
            raise RegistryError(f"no method named {name!r}.{hint} `lidcbench list` shows them all.")
        return self._entries[name]

    def get(self, name: str):
        """The method class registered as ``name``, imported now."""
        entry = self.entry(name)
        try:
            method = entry.entry_point.load() if entry.entry_point is not None else _load_target(entry.target)
        except Exception as error:  # a plugin can fail in any way; name it
            raise PluginError(
                f"method {name!r} from {entry.origin} failed to import ({entry.target}): "
                f"{type(error).__name__}: {error}"
            ) from error
        if not callable(method):
            raise PluginError(f"method {name!r} ({entry.target}) is not a class or factory.")
        return method

    def describe(self, name: str) -> str:
        """One line: the registered description, else the first line of the method's docstring."""
        entry = self.entry(name)
        if entry.description:
            return entry.description
        try:
            doc = (self.get(name).__doc__ or "").strip()
        except PluginError as error:
            return f"(failed to import: {error.__cause__})"
        return doc.splitlines()[0] if doc else "(no description)"


def default_registry() -> Registry:
    return Registry()
