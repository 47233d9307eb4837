from importlib.metadata import EntryPoint

import pytest

from lidcbench.errors import PluginError, RegistryError
from lidcbench.plugins import registry as registry_module
from lidcbench.plugins.registry import BUILTINS, DISABLE_PLUGINS_ENV, Registry


def test_builtins_are_listed_without_importing_them():
    names = Registry(discover_plugins=False).names()
    assert {"diameter", "lasso", "elastic-net", "tiny"} <= set(names)
    assert all(BUILTINS[name][1] for name in names)


def test_every_builtin_imports_and_is_a_method():
    from lidcbench.method import Method

    registry = Registry(discover_plugins=False)
    for name in registry.names():
        assert issubclass(registry.get(name), Method)


def test_unknown_name_answers_with_close_matches():
    with pytest.raises(RegistryError, match="Did you mean 'lasso'"):
        Registry(discover_plugins=False).get("laso")
    with pytest.raises(RegistryError, match="no method named 'zzz'\\. `lidcbench list`"):
        Registry(discover_plugins=False).get("zzz")


def test_a_builtin_that_fails_to_import_is_named():
    registry = Registry({"broken": ("no_such_module_xyz:Thing", "broken on purpose")}, discover_plugins=False)
    with pytest.raises(PluginError, match="'broken' from built-in failed to import .*ModuleNotFoundError"):
        registry.get("broken")


def _fake_plugins(monkeypatch, *points):
    monkeypatch.setattr(registry_module, "entry_points", lambda group: list(points))


def test_plugins_come_from_entry_points_and_load_only_when_asked(monkeypatch):
    _fake_plugins(monkeypatch, EntryPoint("mine", "no_such_plugin_module:Method", registry_module.ENTRY_POINT_GROUP))
    registry = Registry({})
    assert registry.names() == ["mine"]  # listed, not imported
    assert registry.entry("mine").origin.startswith("plugin")
    with pytest.raises(PluginError, match="'mine' from plugin .*no_such_plugin_module"):
        registry.get("mine")


def test_a_duplicate_name_is_an_error(monkeypatch):
    _fake_plugins(monkeypatch, EntryPoint("lasso", "elsewhere:Lasso", registry_module.ENTRY_POINT_GROUP))
    with pytest.raises(RegistryError, match="registered twice"):
        Registry()


def test_the_environment_switch_turns_plugin_discovery_off(monkeypatch):
    _fake_plugins(monkeypatch, EntryPoint("mine", "x:Y", registry_module.ENTRY_POINT_GROUP))
    monkeypatch.setenv(DISABLE_PLUGINS_ENV, "1")
    assert "mine" not in Registry().names()
