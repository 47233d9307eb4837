"""The plugin API, at the path plugin authors import it from: a method's base class and its data.

These names stay here whatever moves inside lidcbench (they live in
:mod:`lidcbench.plugins` and :mod:`lidcbench.patches`); the README's "Writing a
method" lists this surface with :mod:`lidcbench.params` and :mod:`lidcbench.testing`.
"""
from lidcbench.patches import Patches
from lidcbench.patches.volumes import Volumes
from lidcbench.plugins.method import (PLUGIN_API_VERSION, PREDICTION_COLUMNS, UNLABELLED_COLUMNS, FoldData, Method,
                                      prediction_frame)
from lidcbench.protocol.attributes import ATTRIBUTE_NAMES

__all__ = ["ATTRIBUTE_NAMES", "PLUGIN_API_VERSION", "PREDICTION_COLUMNS", "UNLABELLED_COLUMNS", "FoldData",
           "Method", "Patches", "Volumes", "prediction_frame"]
