"""The plugin API for declaring a method's parameters: checks on one value and relations between two.

A method may set ``param_checks = {"n_estimators": at_least(1)}`` and
``param_relations = (no_larger("crop", "patch_size"),)`` as class
attributes; both are optional (see the README's "Writing a method"). These
names stay here whatever moves inside lidcbench (:mod:`lidcbench.plugins.params`).
"""
from lidcbench.plugins.params import (Check, Relation, at_least, between, device_name, each, no_larger, one_of,
                                      optional, positive, timm_model, weights_choice)

__all__ = ["Check", "Relation", "at_least", "between", "device_name", "each", "no_larger", "one_of", "optional",
           "positive", "timm_model", "weights_choice"]
