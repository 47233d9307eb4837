"""A third-party plugin package, installed next to the running environment, runs through `lidcbench run`.

The plugin goes into a target folder put on ``PYTHONPATH`` of this very
interpreter, so it sees the running environment's lidcbench and torch
whether that is a virtualenv, a conda env or the system Python; without that
folder on the path the method does not exist.
"""
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin"


def _can_build_without_isolation() -> bool:
    """setuptools >= 70.1 builds wheels itself; an older one needs the wheel package."""
    if importlib.util.find_spec("setuptools") is None:
        return False
    from importlib.metadata import version

    major, minor = (int(part) for part in version("setuptools").split(".")[:2])
    return (major, minor) >= (70, 1) or importlib.util.find_spec("wheel") is not None


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin-env")
    target = root / "site"
    # Offline with this environment's setuptools where it can build wheels; else pip fetches a builder.
    isolation = ["--no-build-isolation"] if _can_build_without_isolation() else []
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", *isolation, "--target",
                    str(target), str(EXAMPLE)], check=True, cwd=root)
    env = {**os.environ, "LIDCBENCH_CACHE": str(root / "cache"),
           "PYTHONPATH": os.pathsep.join([str(target), *filter(None, [os.environ.get("PYTHONPATH")])])}
    env.pop("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    return root, env


def test_the_installed_plugin_is_listed_and_runs(plugin_env):
    root, env = plugin_env
    python = sys.executable
    listed = subprocess.run([str(python), "-m", "lidcbench", "list"], capture_output=True, text=True, env=env,
                            check=True, cwd=root)
    assert "bright-fraction" in listed.stdout and "plugin (lidcbench-example-plugin)" in listed.stdout, listed.stdout
    ran = subprocess.run([str(python), "-m", "lidcbench", "run", "bright-fraction", "--folds", "0", "--out",
                          str(root / "results"), "--diameter-min", "20"], capture_output=True, text=True, env=env,
                         cwd=root)
    assert ran.returncode == 0, ran.stderr
    assert list((root / "results").rglob("bright-fraction/fold0-seed0.json"))
    # Without the install folder on the path the plugin does not exist.
    outside = {**env, "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    missing = subprocess.run([sys.executable, "-m", "lidcbench", "run", "bright-fraction", "--folds", "0"],
                             capture_output=True, text=True, env=outside, cwd=root)
    assert missing.returncode == 2 and "no method named 'bright-fraction'" in missing.stderr


def test_the_example_plugin_passes_the_conformance_checks(plugin_env):
    _, env = plugin_env
    code = ("from lidcbench.testing import check_method; from lidcbench_example_plugin import BrightFraction; "
            "check_method(BrightFraction); print('conforms')")
    checked = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stderr
    assert "conforms" in checked.stdout
