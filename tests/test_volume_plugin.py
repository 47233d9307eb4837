"""The volume plugin shown in docs/methods.md, run from the docs' own text: it conforms, and a fold of
`lidcbench run` builds cubes for it, passes them through the guarded child and scores its nodule-level rows."""
import re
from pathlib import Path

import pytest

from lidcbench.cli import main
from lidcbench.plugins.registry import Registry
from lidcbench.results.records import read_records
from lidcbench.testing import method_checks

DOCS = Path(__file__).resolve().parents[1] / "docs" / "methods.md"
SMALL = ["--diameter-min", "20"]  # ~150 nodules


def _docs_plugin_source() -> str:
    found = re.search(r"<!-- volume-plugin -->\n```python\n(.*?)```", DOCS.read_text(), re.S)
    assert found, "docs/methods.md lost its volume plugin block"
    return found.group(1)


@pytest.fixture(scope="module")
def plugin_module(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugin")
    (folder / "docs_volume_plugin.py").write_text(_docs_plugin_source())
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(folder))  # the guarded child imports the module by name
        import docs_volume_plugin

        yield docs_volume_plugin


def test_the_docs_volume_plugin_asks_for_volumes_and_passes_the_conformance_checks(plugin_module):
    assert plugin_module.SolidVolume.patch_kind == "volume"
    for check in method_checks(plugin_module.SolidVolume):
        check()


def test_the_docs_volume_plugin_runs_a_fold_on_contours_cubes(plugin_module, tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", "1")
    registry = Registry({"solid-volume": ("docs_volume_plugin:SolidVolume", "the docs' volume plugin")},
                        discover_plugins=False)
    monkeypatch.setattr("lidcbench.running.fold.default_registry", lambda: registry)
    out = tmp_path / "results"
    assert main(["run", "solid-volume", "--folds", "0", "--out", str(out), "--set", "patch_size=16", *SMALL]) == 0
    (record,) = read_records(out)
    settings = record.source_settings
    assert settings["kind"] == "volume" and settings["patch_size"] == 16 and settings["voxel_mm"] == 1.0
    assert "z_interpolation" in settings and record.provenance.isolation in ("wall", "tripwire")
    assert record.metrics["classification"]["auc"] > 0.6  # solid volume is size: it separates these nodules
    assert list((tmp_path / "cache" / "patches").glob("contours-*-vol16-1mm-*.patches"))
