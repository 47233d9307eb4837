"""What `lidcbench run` checks and says before and after the heavy work."""
from __future__ import annotations

import contextlib
import os
import shlex
from pathlib import Path

from ..errors import LidcbenchError


def check_writable(out: Path) -> None:
    """The results folder exists or can be made, and takes a file: checked before any training.
    Folders made for the check are removed again, so a run refused later leaves nothing behind."""
    out = Path(out)
    made = [folder for folder in (out, *out.parents) if not folder.exists()]
    probe = None
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / f".write-check-{os.getpid()}"
        probe.write_bytes(b"")
    except OSError as error:
        raise LidcbenchError(f"cannot write results to {out} ({error.strerror or error}); "
                             "pick a writable folder with --out DIR.") from None
    finally:
        if probe is not None:
            probe.unlink(missing_ok=True)
        for folder in made:  # deepest first
            with contextlib.suppress(OSError):
                folder.rmdir()


def source_line(source, settings: dict, protocol) -> str:
    """One short line: the source, the patch size and the key its records are filed under
    (the full settings are in every record)."""
    from ..records import board_key

    key = board_key(protocol.hash, source.name, settings).rsplit("-", 1)[-1]
    return (f"source {source.describe()}, {settings.get('patch_size')}-pixel patches, "
            f"settings {key} (in full in each record)")


def resume_hint(outcomes, folds: list[int], argv: list[str]) -> str:
    """Which folds were written or kept before Ctrl-C, and the command that does the rest
    (the same one, its --folds narrowed to the folds not finished)."""
    done = sorted(o.fold for o in outcomes)
    left = [f for f in folds if f not in done]
    rest, skip = [], False
    for arg in argv:
        if skip or arg.startswith("--folds="):
            skip = False
            continue
        skip = arg == "--folds"
        if not skip:
            rest.append(arg)
    command = "lidcbench " + shlex.join([*rest, "--folds", ",".join(map(str, left))])
    kept = f"fold(s) {', '.join(map(str, done))} recorded" if done else "no fold recorded"
    return (f"interrupted: {kept}; fold(s) {', '.join(map(str, left))} not finished (no partial record). "
            f"Resume with: {command}")
