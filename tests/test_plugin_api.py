"""The plugin API does not move: a plugin written to the earlier docs keeps conforming and running, the public
names stay at their documented paths, and a value the method's own library refuses is a one-line error."""
import pytest
from frozen_forest_plugin import FrozenForest

import lidcbench.method
import lidcbench.params
from lidcbench.cli import main
from lidcbench.plugins import method as contract
from lidcbench.plugins import params as declarations
from lidcbench.plugins.registry import Registry
from lidcbench.results.records import read_records
from lidcbench.testing import check_method

SMALL = ["--diameter-min", "20"]  # ~150 nodules


@pytest.fixture
def env(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = Registry({"frozen-forest": ("frozen_forest_plugin:FrozenForest", "written to the earlier docs")},
                        discover_plugins=False)
    monkeypatch.setattr("lidcbench.running.fold.default_registry", lambda: registry)
    return tmp_path


def test_a_plugin_written_to_the_earlier_docs_passes_the_conformance_checks():
    check_method(FrozenForest)


def test_a_plugin_written_to_the_earlier_docs_runs_a_fold_and_its_record_says_which_api(env):
    out = env / "results"
    assert main(["run", "frozen-forest", "--folds", "0", "--out", str(out), *SMALL]) == 0
    (record,) = read_records(out)
    assert record.method == "frozen-forest" and record.metrics["classification"]["auc"] is not None
    assert record.provenance.plugin_api_version == lidcbench.method.PLUGIN_API_VERSION == 1


def test_a_value_the_methods_library_refuses_is_one_line_naming_method_and_parameter(env, capsys):
    # No declarations: --set converts by the annotation, scikit-learn refuses the value inside fit.
    args = ["run", "frozen-forest", "--folds", "0", "--out", str(env / "results"), "--set", "max_depth=-3", *SMALL]
    assert main(args) == 2
    printed = capsys.readouterr().err  # the patch cache's progress, then the error
    error = printed.strip().splitlines()[-1]
    assert error.startswith("lidcbench run: error: method 'frozen-forest': max_depth=-3 refused"), printed
    assert "Traceback" not in printed and "sklearn" not in printed
    assert main([*args, "--debug"]) == 2
    shown = capsys.readouterr().err
    assert "Traceback" in shown and "InvalidParameterError" in shown and "max_depth=-3" in shown.splitlines()[-1]


def test_only_errors_about_a_parameter_become_parameter_errors():
    params = {"max_depth": -3, "seed": 0}
    from sklearn.utils._param_validation import InvalidParameterError

    library = InvalidParameterError("The 'max_depth' parameter of RandomForestClassifier must be an int. Got -3.")
    assert "max_depth=-3" in str(declarations.refused_parameter(library, params, "forest"))
    unnamed = InvalidParameterError("The 'criterion' parameter must be a str among {'gini'}. Got 'x'.")
    assert "a parameter value refused" in str(declarations.refused_parameter(unnamed, params, "forest"))
    naming = ValueError("max_depth must be positive\nmore lines")
    assert str(declarations.refused_parameter(naming, params, "forest")).count("\n") == 0
    assert declarations.refused_parameter(ValueError("could not broadcast shapes"), params, "forest") is None
    assert declarations.refused_parameter(ValueError("max_depths of the trees"), params, "forest") is None
    assert declarations.refused_parameter(KeyError("max_depth"), params, "forest") is None


def test_the_public_names_stay_at_their_documented_paths():
    for name in lidcbench.method.__all__:
        assert getattr(lidcbench.method, name) is not None
    assert lidcbench.method.Method is contract.Method and lidcbench.method.FoldData is contract.FoldData
    assert lidcbench.method.prediction_frame is contract.prediction_frame
    assert {"Method", "FoldData", "prediction_frame", "UNLABELLED_COLUMNS"} <= set(lidcbench.method.__all__)
    for name in lidcbench.params.__all__:
        assert getattr(lidcbench.params, name) is getattr(declarations, name)
    assert callable(lidcbench.testing.check_method)
