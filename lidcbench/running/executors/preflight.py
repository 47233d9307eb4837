"""What `lidcbench run` says about its source and, after Ctrl-C, how to go on."""
from __future__ import annotations

import shlex


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
