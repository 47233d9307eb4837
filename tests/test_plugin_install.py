"""A third-party plugin package, installed into a fresh environment, runs through `lidcbench run`."""
import os
import subprocess
import sys
import venv
from pathlib import Path

import pytest

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "plugin"


@pytest.fixture(scope="module")
def plugin_env(tmp_path_factory):
    root = tmp_path_factory.mktemp("plugin-env")
    # The environment sees this interpreter's packages (lidcbench, torch, ...) and gets only the plugin.
    venv.EnvBuilder(system_site_packages=True, with_pip=False).create(root / "venv")
    python = root / "venv" / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                    "--no-build-isolation", str(EXAMPLE)], check=True, cwd=root)
    return root, python


def test_the_installed_plugin_is_listed_and_runs(plugin_env):
    root, python = plugin_env
    env = {**os.environ, "LIDCBENCH_CACHE": str(root / "cache")}
    env.pop("LIDCBENCH_DISABLE_PLUGIN_AUTOLOAD", None)
    listed = subprocess.run([str(python), "-m", "lidcbench", "list"], capture_output=True, text=True, env=env,
                            check=True, cwd=root)
    assert "bright-fraction" in listed.stdout and "plugin (lidcbench-example-plugin)" in listed.stdout, listed.stdout
    ran = subprocess.run([str(python), "-m", "lidcbench", "run", "bright-fraction", "--folds", "0", "--out",
                          str(root / "results"), "--diameter-min", "20"], capture_output=True, text=True, env=env,
                         cwd=root)
    assert ran.returncode == 0, ran.stderr
    assert list((root / "results").rglob("bright-fraction/fold0-seed0.json"))
    # Outside that environment the plugin does not exist.
    missing = subprocess.run([sys.executable, "-m", "lidcbench", "run", "bright-fraction", "--folds", "0"],
                             capture_output=True, text=True, env=env, cwd=root)
    assert missing.returncode == 2 and "no method named 'bright-fraction'" in missing.stderr


def test_the_example_plugin_passes_the_conformance_checks(plugin_env):
    _, python = plugin_env
    code = ("from lidcbench.testing import check_method; from lidcbench_example_plugin import BrightFraction; "
            "check_method(BrightFraction); print('conforms')")
    checked = subprocess.run([str(python), "-c", code], capture_output=True, text=True)
    assert checked.returncode == 0, checked.stderr
    assert "conforms" in checked.stdout
