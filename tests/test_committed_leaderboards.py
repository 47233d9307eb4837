"""The committed leaderboards/ are exactly what `lidcbench leaderboard` writes from the committed results/."""
import filecmp
from pathlib import Path

import pytest

from lidcbench.cli import main

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = ROOT / "leaderboards"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()}


def _differences(regenerated: Path, committed: Path, names: set[str]) -> list[str]:
    return sorted(name for name in names if not filecmp.cmp(regenerated / name, committed / name, shallow=False))


def test_committed_pages_equal_their_regeneration(tmp_path):
    """Pages, ROC figures, index and throughput; the analyses have their own (slow) test below."""
    out = tmp_path / "leaderboards"
    assert main(["leaderboard", "--results", str(ROOT / "results"), "--out", str(out), "--no-analyses"]) == 0
    regenerated = _files(out)
    committed = {name for name in _files(COMMITTED) if not name.startswith("analyses/")}
    assert regenerated == committed, f"missing: {sorted(committed - regenerated)}, extra: {sorted(regenerated - committed)}"
    changed = _differences(out, COMMITTED, committed)
    assert not changed, f"{changed} differ from their regeneration: run `lidcbench leaderboard` and commit them"


@pytest.mark.slow
def test_committed_analyses_equal_their_regeneration(tmp_path):
    """RFE and t-SNE pages and figures (minutes of CPU the first time; then from the analysis cache)."""
    out = tmp_path / "leaderboards"
    assert main(["leaderboard", "--results", str(ROOT / "results"), "--out", str(out)]) == 0
    committed = _files(COMMITTED / "analyses")
    assert _files(out / "analyses") == committed
    changed = _differences(out / "analyses", COMMITTED / "analyses", committed)
    assert not changed, f"{changed} differ from their regeneration: run `lidcbench leaderboard` and commit them"
