"""What `lidcbench run` says about its source and, after Ctrl-C, how to go on."""
from __future__ import annotations

import shlex
from pathlib import Path


def source_line(source, settings: dict, protocol) -> str:
    """One short line: the source, the patch size and the key its records are filed under
    (the full settings are in every record)."""
    from lidcbench.results.records import board_key

    key = board_key(protocol.hash, source.name, settings).rsplit("-", 1)[-1]
    size = settings.get("patch_size")
    seen = (f"{size}^3 volumes of {settings.get('voxel_mm'):g} mm voxels" if settings.get("kind") == "volume"
            else f"{size}-pixel patches")
    return (f"source {source.describe()}, {seen}, "
            f"settings {key} (in full in each record)")


def resume_hint(done: list[int], left: list[int], argv: list[str] | None, one_series: bool) -> str:
    """Which folds were recorded before Ctrl-C, and the command that does the rest: for one method and
    seed, the same command with --folds narrowed to the folds not finished; for a grid, the same command
    (recorded jobs are skipped)."""
    kept = f"fold(s) {', '.join(map(str, done))} recorded" if done else "no fold recorded"
    said = f"interrupted: {kept}; fold(s) {', '.join(map(str, left))} not finished (no partial record)."
    if argv is None:
        return said
    rest, skip = [], False
    for arg in argv:
        if one_series and (skip or arg.startswith("--folds=")):
            skip = False
            continue
        skip = one_series and arg == "--folds"
        if not skip:
            rest.append(arg)
    command = "lidcbench " + shlex.join([*rest, *(["--folds", ",".join(map(str, left))] if one_series else [])])
    return f"{said} Resume with: {command}"


def checkpoint_lines(unfinished: list[tuple[str, Path]], minutes: float | None, every: int | None) -> list[str]:
    """After Ctrl-C: for each unfinished job (name, record path) whose checkpoint was kept, the epoch it
    holds and that the same command resumes there; one line for those without one (they start afresh)."""
    from lidcbench.training.checkpoints import checkpoint_path, saved_epoch

    lines, afresh = [], []
    for name, record in unfinished:
        checkpoint = checkpoint_path(record)
        epoch = saved_epoch(checkpoint)
        if epoch is None:
            afresh.append(name)
            continue
        lines.append(f"{name}: checkpoint kept after epoch {epoch} ({checkpoint}); the command resumes it there if "
                     "the method's code, the data, the device type and the parameters are unchanged "
                     "(else it says which differs and starts afresh).")
    if afresh:
        when = " or ".join([*([f"{minutes:g} minutes of training"] if minutes else []),
                            *([f"{every} epoch(s)"] if every else [])])
        lines.append(f"no checkpoint kept for {', '.join(afresh)}: started afresh by the command (a method that "
                     f"trains by epochs saves one after {when}; --checkpoint-minutes sets how often).")
    return lines
