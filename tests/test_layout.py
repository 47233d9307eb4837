"""The package's shape is checked by tools: the stages' import order (import-linter), the package list that
setuptools installs, and no top-level `methods` or `baselines` in site-packages."""
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LINT = [sys.executable, "-c", "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"]


def _copy_package(to: Path) -> None:
    shutil.copytree(ROOT / "lidcbench", to / "lidcbench", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", to / "pyproject.toml")


def test_the_stages_import_downward_only():
    linted = subprocess.run(LINT, cwd=ROOT, capture_output=True, text=True)
    assert linted.returncode == 0, linted.stdout[-3000:] + linted.stderr[-2000:]
    assert "Stages import downward only KEPT" in linted.stdout


def test_an_upward_import_breaks_the_contract_and_is_named(tmp_path):
    _copy_package(tmp_path)
    rules = tmp_path / "lidcbench" / "protocol" / "rules.py"
    rules.write_text(rules.read_text() + "\nfrom lidcbench.reports import leaderboard  # upward, on purpose\n")
    linted = subprocess.run(LINT, cwd=tmp_path, capture_output=True, text=True)
    assert linted.returncode == 1, linted.stdout[-3000:] + linted.stderr[-2000:]
    assert "BROKEN" in linted.stdout
    assert "lidcbench.protocol.rules -> lidcbench.reports.leaderboard" in linted.stdout


def test_every_package_folder_is_in_the_install_list():
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    on_disk = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "lidcbench").rglob("__init__.py")}
    on_disk |= {f"lidcbench.{folder}" for folder in ("methods", "baselines")}
    assert set(setuptools["packages"]) == on_disk
    assert setuptools["package-dir"] == {"lidcbench.methods": "methods", "lidcbench.baselines": "baselines"}


def test_the_built_in_methods_import_under_lidcbench_and_nothing_top_level(tmp_path):
    code = ("import importlib.util as u, lidcbench.methods.mtmr, lidcbench.baselines.linear; "
            "print(u.find_spec('methods'), u.find_spec('baselines'))")
    found = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["None", "None"]


def test_pip_install_puts_no_methods_or_baselines_in_site_packages(tmp_path):
    source, target = tmp_path / "source", tmp_path / "site"
    skipped = {".git", ".ci", ".venv", "results", "leaderboards", "build", "lidcbench.egg-info"}
    shutil.copytree(ROOT, source, ignore=lambda folder, names: [n for n in names if n == "__pycache__" or
                                                                Path(folder) == ROOT and n in skipped])
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target),
                    str(source)], check=True, cwd=tmp_path)
    top = sorted(p.name for p in target.iterdir())
    assert "methods" not in top and "baselines" not in top, top
    assert (target / "lidcbench" / "methods" / "mtmr.py").is_file()
    assert (target / "lidcbench" / "baselines" / "linear.py").is_file()
    assert (target / "lidcbench" / "protocol" / "data" / "folds-v1.json").is_file()
