"""Values a method chooses while fitting (lasso's and elastic-net's inner cross-validation) come back from
the guarded child and into the record; a record made before they were kept says so."""
import json

from test_records import make_record

from lidcbench.baselines.linear import ElasticNetMethod, LassoMethod
from lidcbench.method import ATTRIBUTE_NAMES
from lidcbench.results.records import read_record, write_record
from lidcbench.running.isolation import fit_predict
from lidcbench.testing.data import synthetic_split

TARGETS = {*ATTRIBUTE_NAMES, "malignancy"}


def test_inner_cross_validation_choices_cross_the_guard(monkeypatch):
    monkeypatch.setenv("LIDCBENCH_ISOLATION", "on")
    train, test = synthetic_split()
    net = fit_predict(ElasticNetMethod, {"inner_folds": 2, "n_alphas": 5, "l1_ratio": (0.2, 0.8), "seed": 0},
                      train, test, refused=())
    assert set(net.selected) == TARGETS
    assert all(c["l1_ratio"] in (0.2, 0.8) and c["alpha"] > 0 for c in net.selected.values()), net.selected
    lasso = fit_predict(LassoMethod, {"inner_folds": 2, "n_alphas": 5, "seed": 0}, train, test, refused=())
    assert set(lasso.selected) == TARGETS and all(set(c) == {"alpha"} for c in lasso.selected.values())


def test_records_keep_the_choices_and_old_records_read_as_not_kept(tmp_path):
    chosen = {"malignancy": {"alpha": 0.0123, "l1_ratio": 0.5}}
    record = make_record()
    path = write_record(record.__class__(**{**record.__dict__, "selected_params": chosen}), tmp_path)
    assert read_record(path).selected_params == chosen
    assert make_record().selected_params == {}  # a method that chose nothing
    document = json.loads(path.read_text())
    del document["selected_params"]  # as written before lidcbench kept them
    path.write_text(json.dumps(document))
    assert read_record(path).selected_params is None
