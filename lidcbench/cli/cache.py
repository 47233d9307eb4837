"""`lidcbench cache build|info|clear`: the patch cache."""
from __future__ import annotations

import argparse
import json
from pathlib import Path

from .options import add_protocol_arguments, protocol_from_args


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache-dir", type=Path, metavar="DIR",
                        help="cache folder (default: $LIDCBENCH_CACHE, else $XDG_CACHE_HOME/lidcbench)")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    build = actions.add_parser("build", help="build (or check) the patches of a source for the cohort")
    build.add_argument("--source", default="contours", help="contours (built in, default) or ct (your DICOM)")
    build.add_argument("--size", type=int, metavar="N",
                       help="patch side in pixels (default 256); with --kind volume, cube side in voxels (default 32)")
    build.add_argument("--kind", choices=("slices", "volume"), default="slices",
                       help="2D patches, one per slice (default), or one cube per nodule at isotropic spacing")
    build.add_argument("--voxel-mm", type=float, default=1.0, metavar="MM",
                       help="--kind volume: voxel side in mm (default 1)")
    build.add_argument("--dicom-root", type=Path, metavar="DIR",
                       help="ct source: folder with the LIDC-IDRI-dddd folders (default: $LIDCBENCH_DICOM_ROOT, "
                            "else pylidc's ~/.pylidcrc)")
    build.add_argument("--allow-missing", action="store_true",
                       help="ct source: build the nodules whose scans are present and record the others")
    build.add_argument("--workers", type=int, metavar="N", help="processes (default: all cores)")
    add_protocol_arguments(build)
    info = actions.add_parser("info", help="list cached patch files with key, size and contents")
    info.add_argument("--json", action="store_true", help="print the listing as JSON")
    clear = actions.add_parser("clear", help="delete cached patches (all of the cache unless --key)")
    clear.add_argument("--key", action="append", metavar="KEY", help="delete only this entry (repeatable)")


def run(args: argparse.Namespace) -> int:
    return {"build": _build, "info": _info, "clear": _clear}[args.action](args)


def _build(args: argparse.Namespace) -> int:
    from lidcbench.errors import SourceError
    from lidcbench.patches.cache import load_patches
    from lidcbench.patches.sources import make_source
    from lidcbench.protocol.cohort import load_cohort

    if args.dicom_root is not None and args.source != "ct":
        raise SourceError("--dicom-root applies to the ct source only; add --source ct.")
    options = {"dicom_root": args.dicom_root} if args.source == "ct" else {}
    source = make_source(args.source, **options)
    cohort = load_cohort(protocol_from_args(args))
    if args.kind == "volume":
        from lidcbench.patches.volume_cache import load_volumes

        volumes = load_volumes(cohort, source, size=args.size or 32, voxel_mm=args.voxel_mm, cache_dir=args.cache_dir,
                               allow_missing=args.allow_missing, workers=args.workers)
        print(f"{volumes.key}: {len(volumes)} volumes of {volumes.size}^3 voxels from {source.describe()}")
        if volumes.missing:
            print(f"left out {len(volumes.missing)} nodules whose scans are missing; they are listed in the cache file")
        return 0
    patches = load_patches(cohort, source, size=args.size or 256, cache_dir=args.cache_dir,
                           allow_missing=args.allow_missing, workers=args.workers)
    kept = len(set(patches.nodule_ids))
    print(f"{patches.key}: {len(patches)} patches of {kept} nodules from {source.describe()}")
    if patches.missing:
        print(f"left out {len(patches.missing)} nodules whose scans are missing; they are listed in the cache file")
    return 0


def _info(args: argparse.Namespace) -> int:
    from lidcbench.cachedir import cache_root
    from lidcbench.patches.cache import cache_entries, leftover_files
    from lidcbench.patches.sources.dicom_series import INDEX_FOLDER

    root = cache_root(args.cache_dir)
    entries = cache_entries(args.cache_dir)
    leftovers = leftover_files(args.cache_dir)
    indexes = sorted((root / INDEX_FOLDER).glob("*.json"))
    if args.json:
        listing = [{"key": e.key, "path": str(e.path), "bytes": e.bytes, "problem": e.problem,
                    **({k: e.manifest[k] for k in _SUMMARY} if e.manifest else {}),
                    **({"nodules": len(e.manifest["nodule_ids"]), "patches": _count(e.manifest),
                        "missing": len(e.manifest["missing"])} if e.manifest else {})} for e in entries]
        print(json.dumps({"cache_dir": str(root), "entries": listing, "dicom_indexes": len(indexes),
                          "leftovers": [str(p) for p in leftovers]}, indent=2))
        return 0
    print(f"cache: {root}")
    if not entries:
        print("no cached patches; `lidcbench cache build` makes them")
    for entry in entries:
        if entry.manifest is None:
            print(f"  {entry.key}  {entry.bytes / 1e6:.1f} MB  unusable, rebuilt on next use: {entry.problem}")
            continue
        m = entry.manifest
        missing = f", {len(m['missing'])} left out (missing scans)" if m["missing"] else ""
        shape = f"{m['size']}^3 voxels of {m['voxel_mm']:g} mm" if m.get("kind") == "volume" else f"{m['size']} px"
        print(f"  {entry.key}  {entry.bytes / 1e6:.1f} MB  {m['source']} {shape}, "
              f"{len(m['nodule_ids'])} nodules{missing}, {_count(m)} {'volumes' if m.get('kind') == 'volume' else 'patches'}, "
              f"protocol {m['protocol_hash']}, built {m['created']}")
    if indexes:
        print(f"DICOM header indexes of {len(indexes)} series (ct source), "
              f"{sum(p.stat().st_size for p in indexes) / 1e6:.1f} MB")
    if leftovers:
        print(f"{len(leftovers)} unfinished temporary file(s) from interrupted writes; `lidcbench cache clear` "
              f"removes them")
    return 0


def _count(manifest: dict) -> int:
    """Patches in a 2D file, cubes in a volume file."""
    return len(manifest["nodule_ids"]) if manifest.get("kind") == "volume" else sum(manifest["slice_counts"])


_SUMMARY = ("source", "size", "protocol_hash", "created", "lidcbench_version")


def _clear(args: argparse.Namespace) -> int:
    from lidcbench.cachedir import cache_root
    from lidcbench.patches.cache import clear_cache

    count, freed = clear_cache(args.cache_dir, keys=args.key)
    print(f"removed {count} file(s), {freed / 1e6:.1f} MB, from {cache_root(args.cache_dir)}")
    return 0
