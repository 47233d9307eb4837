"""The method code digest: same for a docstring or comment edit, different for a code edit; pages mark older code."""
import importlib
import sys
from dataclasses import replace

import pytest
from test_records import make_record

from lidcbench.plugins.codedigest import code_modules, method_code_digest, registered_code_digest
from lidcbench.reports.leaderboard import build_leaderboards
from lidcbench.reports.leaderboard_page import page_markdown

PLUGIN = '''
"""A plugin."""
from lidcbench.method import Method
from {package}.helper import scale  # the package's own helper counts as the method's code


class Doubler(Method):
    """Doubles."""

    def __init__(self, seed: int = 0):
        self.seed = seed

    def fit(self, train):
        return self  # learns nothing
'''
HELPER = '''
def scale(x):
    """Scales."""
    return {body}
'''


def _load(tmp_path, plugin=PLUGIN, body="2 * x"):
    """Write the package ``pkg_digest`` afresh and import its method class (a new class object each time)."""
    folder = tmp_path / "pkg_digest"
    folder.mkdir(exist_ok=True)
    (folder / "__init__.py").write_text("")
    (folder / "plugin.py").write_text(plugin.format(package="pkg_digest"))
    (folder / "helper.py").write_text(HELPER.format(body=body))
    for name in [n for n in sys.modules if n.split(".")[0] == "pkg_digest"]:
        del sys.modules[name]
    importlib.invalidate_caches()
    sys.path.insert(0, str(tmp_path))
    try:
        return importlib.import_module("pkg_digest.plugin").Doubler
    finally:
        sys.path.remove(str(tmp_path))


def test_a_docstring_or_comment_edit_keeps_the_digest_and_a_code_edit_changes_it(tmp_path):
    original = _load(tmp_path)
    first = method_code_digest(original)
    assert [m.__name__ for m in code_modules(original)] == ["pkg_digest.helper", "pkg_digest.plugin"]
    reworded = _load(tmp_path, PLUGIN.replace('"""Doubles."""', '"""Twice."""').replace("learns", "has"))
    assert reworded is not original and method_code_digest(reworded) == first
    helper_changed = _load(tmp_path, body="3 * x")  # only the helper module's code differs
    assert method_code_digest(helper_changed) != first
    assert len(first) == 12 and int(first, 16) >= 0


def test_the_shared_training_code_counts_for_a_method_that_trains_with_it():
    from lidcbench.testing.tinynet import TinyNetMethod

    names = [m.__name__ for m in code_modules(TinyNetMethod)]
    assert "lidcbench.testing.tinynet" in names and any(n.startswith("lidcbench.training.") for n in names)
    assert registered_code_digest("no-such-method") is None


@pytest.mark.parametrize("made_by, shown", [
    ("today", "today's (`{today}`)"),
    (None, "**older**: made at"),
    ("0123456789ab", "**older**: `0123456789ab`; today's `{today}`"),
])
def test_how_these_were_made_marks_a_row_of_older_code(made_by, shown):
    today = registered_code_digest("tiny")
    records = []
    for fold in range(2):
        record = make_record("tiny", fold=fold)
        digest = today if made_by == "today" else made_by
        records.append(replace(record, provenance=replace(record.provenance, method_code=digest)))
    (board,) = build_leaderboards(records)
    page = page_markdown(board, "roc.png", "<!-- generated -->")
    assert shown.format(today=today) in page
    assert ("> **Made by older code.**" in page) == (made_by != "today")


def test_the_torch_methods_digest_covers_the_loop_but_not_the_checkpoint_keeping():
    from lidcbench.baselines.cnn import CnnMethod

    names = [module.__name__ for module in code_modules(CnnMethod)]
    assert "lidcbench.training.loop" in names and "lidcbench.training.devicedata" in names
    assert "lidcbench.training.checkpoints" not in names  # state kept between epochs, not computation
