"""Method parameters: converted by the types __init__ declares, checked against each method's declarations."""
import subprocess
import sys

import pytest

from lidcbench.errors import ParameterError
from lidcbench.methods.mtmr import Mtmr, MtmrRank
from lidcbench.plugins.params import at_least, check_params, convert, each, no_larger, optional, positive
from lidcbench.plugins.registry import Registry
from lidcbench.running.fold import FoldJob, plan
from lidcbench.testing import check_parameter_declarations
from lidcbench.testing.tiny import TinyMethod


@pytest.mark.parametrize("name, text, expected", [
    ("epochs", "3", 3), ("lr_head", "1e-4", 1e-4), ("lr_head", "2", 2.0), ("backbone", "resnet34", "resnet34"),
    ("lr_steps", "4,8", (4, 8)), ("lr_steps", "(4, 8)", (4, 8)), ("lr_steps", "4", (4,)), ("lr_steps", "()", ()),
    ("max_slices_per_nodule", "none", None), ("max_slices_per_nodule", "None", None),
    ("max_slices_per_nodule", "2", 2), ("pretrained", "none", "none"),
])
def test_set_values_take_the_type_init_declares(name, text, expected):
    value = convert(Mtmr, name, text)
    assert value == expected and type(value) is type(expected)


def test_a_variant_passing_params_on_converts_its_parents_parameters():
    assert convert(MtmrRank, "epochs", "2") == 2 and convert(MtmrRank, "lam", "0") == 0.0


@pytest.mark.parametrize("name, text", [("epochs", "abc"), ("epochs", "1.5"), ("lr_head", "fast"),
                                        ("lr_steps", "4,x"), ("max_slices_per_nodule", "many")])
def test_text_that_is_not_the_declared_type_is_a_named_error(name, text):
    with pytest.raises(ParameterError, match=f"parameter {name}="):
        convert(Mtmr, name, text, "mtmr")


@pytest.mark.parametrize("change, words", [
    ({"epochs": -1}, "epochs=-1 is not allowed: >= 1"), ({"epochs": 0}, "epochs=0"),
    ({"lr_head": -1.0}, "lr_head=-1.0 is not allowed: > 0"), ({"lr_backbone": 0.0}, "lr_backbone"),
    ({"beta": -0.5}, "beta=-0.5"), ({"crop": 80}, "crop <= patch_size"), ({"backbone": "resnet9000"}, "timm"),
    ({"lr_steps": (4, 2)}, "increasing"), ({"device": "gpu"}, "device='gpu'"),
    ({"epochs": "5"}, "is not an integer"), ({"epochs": 2.5}, "is not an integer"), ({"epochs": True}, "integer"),
])
def test_values_outside_what_mtmr_declares_are_refused(change, words):
    with pytest.raises(ParameterError, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_params(Mtmr, {**Mtmr().get_params(), **change}, "mtmr")


def test_allowed_values_pass_and_json_lists_become_tuples():
    checked = check_params(Mtmr, {**Mtmr().get_params(), "lr_steps": [2, 3], "max_slices_per_nodule": None})
    assert checked["lr_steps"] == (2, 3)


def test_plan_checks_overrides_from_python_and_from_text_before_building_anything():
    with pytest.raises(ParameterError, match="epochs=-1"):
        plan(FoldJob(method="mtmr", fold=0, params={"epochs": -1}, device="cpu"))
    with pytest.raises(ParameterError, match="epochs='abc'"):
        plan(FoldJob(method="mtmr", fold=0, params={"epochs": "abc"}, device="cpu"))
    resolved = plan(FoldJob(method="mtmr", fold=0, params={"epochs": "2", "lr_steps": "1"}, device="cpu"))
    assert resolved.params["epochs"] == 2 and resolved.params["lr_steps"] == (1,)


def test_a_bad_profile_is_refused_too(monkeypatch):
    monkeypatch.setattr(Mtmr, "profiles", {**Mtmr.profiles, "broken": {"crop": 300}})
    with pytest.raises(ParameterError, match="crop <= patch_size"):
        plan(FoldJob(method="mtmr", fold=0, profile="broken", device="cpu"))


def test_every_builtin_declares_checks_that_its_defaults_and_profiles_pass():
    registry = Registry(discover_plugins=False)
    for name in registry.names():
        method_class = registry.get(name)
        assert method_class.param_checks, f"{name} declares no parameter checks"
        check_parameter_declarations(method_class, {}, None)


def test_the_conformance_check_catches_a_declaration_for_no_parameter_and_a_default_it_refuses():
    class Misdeclared(TinyMethod):
        param_checks = {"C": positive(), "epochs": at_least(1)}

    with pytest.raises(AssertionError, match="unknown parameter"):
        check_parameter_declarations(Misdeclared, {}, None)

    class RefusesItsDefault(TinyMethod):
        param_checks = {"C": at_least(5)}

    with pytest.raises(AssertionError, match="__init__ defaults"):
        check_parameter_declarations(RefusesItsDefault, {}, None)


def test_small_checks_say_what_they_allow():
    assert optional(at_least(1)).test(None) and not optional(at_least(1)).test(0)
    assert each(positive()).test((1, 2)) and not each(positive()).test((1, -2))
    assert no_larger("a", "b").test(1, 2) and not no_larger("a", "b").test(3, 2)


@pytest.mark.parametrize("setting, words", [("epochs=-1", "epochs=-1 is not allowed: >= 1"),
                                            ("epochs=abc", "epochs='abc' is not an integer"),
                                            ("lr_head=-1", "lr_head=-1.0 is not allowed: > 0")])
def test_the_cli_refuses_a_bad_value_in_one_line_with_exit_code_2(tmp_path, setting, words):
    done = subprocess.run([sys.executable, "-m", "lidcbench", "run", "mtmr", "--folds", "0", "--device", "cpu",
                           "--out", str(tmp_path), "--set", setting], capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [f"lidcbench run: error: method 'mtmr': parameter {words}."]
    assert not any(tmp_path.iterdir()), "a refused run wrote something"
