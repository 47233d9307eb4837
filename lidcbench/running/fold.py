"""Train on the other folds, predict one fold, score it, write its record.

A :class:`FoldJob` is one self-contained unit of work: names and settings
in, a result record out, so that an executor can run fold jobs anywhere.
:func:`run_folds` runs the requested folds one after another, skipping
those whose record exists.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from lidcbench.errors import LidcbenchError, PluginError, ProtocolError
from lidcbench.plugins.codedigest import method_code_digest
from lidcbench.plugins.method import FoldData, Method
from lidcbench.plugins.params import annotations, check_params, convert, defaults, refused_parameter
from lidcbench.plugins.registry import Registry, default_registry
from lidcbench.protocol.rules import Protocol
from lidcbench.protocol.variants import Variant
from lidcbench.results.records import DEFAULT_RESULTS, RunRecord, read_record, record_path, setting_key
from lidcbench.training.checkpoints import DEFAULT_MINUTES

DEFAULT_PATCH_SIZE = 64  # for methods that do not ask for a patch size
DEFAULT_VOLUME_SIZE = 32  # for volume methods that do not ask for a cube size
PATCH_KINDS = ("slices", "volume")  # what Method.patch_kind may say
DEFAULT_VOXEL_MM = 1.0  # volume methods that do not ask for a voxel size (lidcbench.patches.sources.cube's)


@dataclass(frozen=True)
class FoldJob:
    method: str
    fold: int
    seed: int = 0
    profile: str | None = None  # None: the method's default for the device
    params: dict[str, Any] = field(default_factory=dict)  # overrides on top of the profile
    source: str = "contours"
    source_options: dict[str, Any] = field(default_factory=dict)  # e.g. {"dicom_root": ...} for ct
    allow_missing: bool = False  # ct source: score the nodules whose scans are present
    protocol: dict[str, Any] = field(default_factory=dict)  # Protocol fields; {} is the default protocol
    out_dir: str = str(DEFAULT_RESULTS)
    device: str = "auto"
    # When methods that train by epochs save a checkpoint: after M minutes of training since the last save,
    # and every K epochs if asked (None: never by count).
    checkpoint_every: int | None = None
    checkpoint_minutes: float | None = DEFAULT_MINUTES
    min_coverage: float | None = None  # refuse to score when fewer of the cohort's nodules have pixels
    # An evaluation variant, Variant fields ({"split": "nodule"}); {} is the protocol. ``protocol`` then
    # holds the variant's own rules (Variant.protocol()).
    variant: dict[str, Any] = field(default_factory=dict)
    require_wall: bool = False  # refuse to run fit and predict without the operating system's wall


@dataclass(frozen=True)
class Plan:
    """A job resolved against its method: the profile chosen and the exact parameters."""

    job: FoldJob
    method_class: type
    profile: str
    params: dict[str, Any]
    device: str
    patch_size: int  # pixels a side; voxels a side for a volume method
    patch_kind: str = "slices"
    voxel_mm: float = DEFAULT_VOXEL_MM  # volume methods: the cube's voxel side


def resolve_device_name(device: str) -> str:
    """``auto`` as cuda or cpu; a CUDA device asked for without CUDA is an error at once."""
    if device != "auto" and not device.startswith("cuda"):
        return device
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not torch.cuda.is_available():
        raise LidcbenchError(f"device {device!r} asked for, but torch sees no CUDA device; use --device cpu.")
    return device


def typed_overrides(method_class: type, params: dict[str, Any], method: str = "") -> dict[str, Any]:
    """Overrides given as text (``--set NAME=VALUE``) converted to the types ``__init__`` declares."""
    kinds = annotations(method_class)
    return {name: convert(method_class, name, value, method) if isinstance(value, str) and kinds.get(name) is not str
            else value for name, value in params.items()}


def plan(job: FoldJob, registry: Registry | None = None) -> Plan:
    method_class = (registry or default_registry()).get(job.method)
    if not (isinstance(method_class, type) and issubclass(method_class, Method)):
        raise PluginError(f"method {job.method!r} is not a lidcbench.method.Method subclass.")
    method_code_digest(method_class)  # digested now, as loaded: a file edited during a long run does not count
    if Variant(**job.variant).selects_on_test and "epochs" not in method_class.param_names():
        raise ProtocolError(f"--selection best-epoch-on-test picks an epoch, and method {job.method!r} does not "
                            "train by epochs (it has no epochs parameter); use it with a method that does.")
    # A method without a device parameter runs on the CPU: "auto" then needs no torch import (seconds).
    takes_device = "device" in method_class.param_names()
    device = resolve_device_name(job.device) if takes_device or job.device != "auto" else "cpu"
    profiles = method_class.profiles
    profile = job.profile or method_class.default_profile(device)
    if profile not in profiles:
        raise LidcbenchError(f"method {job.method!r} has no profile {profile!r}; it has: {', '.join(profiles)}.")
    names = method_class.param_names()
    unknown = sorted(set(job.params) - set(names))
    if unknown:
        raise LidcbenchError(f"method {job.method!r} takes no parameter(s) {', '.join(unknown)}; "
                             f"it takes: {', '.join(names)}.")
    params = {**profiles[profile], **typed_overrides(method_class, job.params, job.method)}
    if "seed" in names:
        params["seed"] = job.seed
    if "device" in names:
        params["device"] = device
    params = check_params(method_class, params, job.method)
    kind = getattr(method_class, "patch_kind", "slices")
    if kind not in PATCH_KINDS:
        raise PluginError(f"method {job.method!r} asks for patch kind {kind!r}; a method takes one of "
                          f"{', '.join(PATCH_KINDS)} (class attribute patch_kind).")
    split = Variant(**job.variant).split
    if kind == "volume" and split in ("slice", "annotation"):
        raise ProtocolError(f"--split {split} splits a nodule's slices or outlines, and method {job.method!r} "
                            "takes whole volumes; use it with --split patient, scan or nodule.")
    if kind == "slices":
        return Plan(job, method_class, profile, params, device, int(params.get("patch_size", DEFAULT_PATCH_SIZE)))
    # A volume method's cube is its own patch_size and voxel_mm, as set or as __init__ defaults them.
    values = {**defaults(method_class), **params}
    return Plan(job, method_class, profile, params, device, int(values.get("patch_size", DEFAULT_VOLUME_SIZE)), kind,
                float(values.get("voxel_mm", DEFAULT_VOXEL_MM)))


def source_and_settings(job: FoldJob, size: int, kind: str = "slices", voxel_mm: float = DEFAULT_VOXEL_MM):
    """The job's patch source and the settings that name its pixels (the patch size included; for
    volumes, the source's volume settings, the kind and the voxel size too)."""
    from lidcbench.patches.sources import make_source

    source = make_source(job.source, **job.source_options)
    if kind == "volume":
        return source, {**source.volume_settings(), "kind": kind, "patch_size": size, "voxel_mm": voxel_mm}
    return source, {**source.settings(), "patch_size": size}


def plan_source_and_settings(resolved: Plan):
    """:func:`source_and_settings` for a resolved job: its kind, size and voxel size."""
    return source_and_settings(resolved.job, resolved.patch_size, resolved.patch_kind, resolved.voxel_mm)


def load_pixels(resolved: Plan, cohort, source, progress: bool = True):
    """What the planned method sees of ``cohort``: :class:`~lidcbench.patches.Patches`, or
    :class:`~lidcbench.patches.volumes.Volumes` for a volume method; built on first use, cached."""
    if resolved.patch_kind == "volume":
        from lidcbench.patches.volume_cache import load_volumes

        return load_volumes(cohort, source, size=resolved.patch_size, voxel_mm=resolved.voxel_mm, progress=progress,
                            allow_missing=resolved.job.allow_missing)
    from lidcbench.patches.cache import load_patches

    return load_patches(cohort, source, size=resolved.patch_size, progress=progress,
                        allow_missing=resolved.job.allow_missing)


def record_location(resolved: Plan) -> Path:
    job = resolved.job
    _, settings = plan_source_and_settings(resolved)
    setting = setting_key(Protocol(**job.protocol).hash, job.source, settings, resolved.profile,
                          Variant(**job.variant).to_record())
    return record_path(job.out_dir, job.method, job.fold, job.seed, setting=setting)


def run_fold(job: FoldJob, registry: Registry | None = None, show_progress: bool = True) -> tuple[RunRecord, Path]:
    """Run one fold job end to end and write its record (atomically). Another invocation running the
    same job meanwhile is a :class:`~lidcbench.errors.CheckpointBusyError`, before any loading."""
    from lidcbench.training import checkpoints

    from .isolation import require_wall
    from .job_checkpoint import job_checkpointing

    resolved = plan(job, registry)
    if job.require_wall:
        require_wall()  # before any loading
    checkpointing = job_checkpointing(record_location(resolved), f"{job.method} fold {job.fold} seed {job.seed}",
                                      job.checkpoint_every, job.checkpoint_minutes)
    with checkpoints.held(checkpointing):
        return _run_held(resolved, checkpointing, show_progress)


def _run_held(resolved: Plan, checkpointing, show_progress: bool) -> tuple[RunRecord, Path]:
    """:func:`run_fold` under the job's lock."""
    from lidcbench.plugins.predictions import validate_predictions
    from lidcbench.results.coverage import check_min_coverage, cohort_coverage, fold_record
    from lidcbench.results.records import new_record, write_record
    from lidcbench.results.skips import FoldSkipped, SkippedFold, clear_skip, screen_fold, write_skip
    from lidcbench.scoring.score import nodule_predictions, score_fold
    from lidcbench.training import checkpoints, snapshots

    from .isolation import NO_WEIGHTS, fit_predict, label_sources, start_early
    from .job_checkpoint import job_identity
    from .variantrows import record_rows, side_patches

    job = resolved.job
    start_early(resolved.method_class)  # the guarded process's imports overlap the loading below
    protocol, variant = Protocol(**job.protocol), Variant(**job.variant)
    variant.check_protocol(protocol)
    cohort, folds = variant.cohort(protocol), variant.folds()
    source, settings = plan_source_and_settings(resolved)
    patches = load_pixels(resolved, cohort, source, progress=show_progress)
    train_table, test_table = folds.split(cohort, job.fold)
    fold_ids = set(test_table["nodule_id"])
    available = set(patches.nodule_ids)  # fewer than the cohort only with --allow-missing on the ct source
    train_table = train_table[train_table["nodule_id"].isin(available)].reset_index(drop=True)
    test_table = test_table[test_table["nodule_id"].isin(available)].reset_index(drop=True)
    train_patches, test_patches = side_patches(variant, folds, patches, train_table, test_table, job.fold)
    train = FoldData(train_table, train_patches, labelled=True)
    test = FoldData.unlabelled(test_table, test_patches)
    coverage = cohort_coverage(cohort.table, patches.missing)
    check_min_coverage(coverage, job.min_coverage)
    coverage = fold_record(coverage, len(fold_ids), len(test_table))

    with _parameter_errors(resolved):
        method = resolved.method_class(**resolved.params)
    reason = screen_fold(method, train_table, test_table, job.fold)  # before any training
    if reason:
        marker = SkippedFold(job.method, job.fold, job.seed, resolved.profile, job.source, settings, protocol.hash,
                             reason, coverage)
        checkpoints.discard(checkpointing)  # its folder and lock: nothing will be trained
        raise FoldSkipped(marker, write_skip(marker, job.out_dir))
    # An interrupted job resumes from its checkpoint, found from where its record will be, if saved under
    # the same identity; the guarded child learns where through the environment (lidcbench.training.checkpoints).
    checkpointing = replace(checkpointing, identity=job_identity(
        resolved.method_class, resolved.params, resolved.device, patches.key, train_table, test_table["nodule_id"]))
    own = str(checkpoints.prepare_folder(checkpointing))
    # best-epoch-on-test: each epoch's weights in the job's own folder, so a resumed job keeps them.
    epochs_folder = str(Path(own) / "epochs") if variant.selects_on_test else None
    # In a guarded child process that cannot open what holds labels (lidcbench.running.isolation).
    with checkpoints.saving_to(checkpointing), _parameter_errors(resolved):
        fitted = fit_predict(resolved.method_class, resolved.params, train, test,
                             label_sources(cohort.db_path, [job.out_dir]), name=job.method,
                             own=[own], wall_required=job.require_wall, epochs_folder=epochs_folder)
    predictions = validate_predictions(fitted.predictions, cohort)
    selection = None
    if variant.selects_on_test:  # the runner, which holds the labels, chooses; the method only predicted
        from lidcbench.scoring.selection import best_epoch_on_test

        selection = best_epoch_on_test([validate_predictions(p, cohort) for p in fitted.by_epoch or ()],
                                       test_table, diameter=protocol.diameter)
        predictions = selection.predictions
    metrics = score_fold(predictions, test_table, train_table, diameter=protocol.diameter)
    if selection is not None:
        metrics = {**metrics, "selection": selection.to_record()}
    nodules = nodule_predictions(predictions, test_table, diameter=protocol.diameter)
    nodules, metrics = record_rows(variant, predictions, nodules, test_table, metrics, protocol.diameter)
    if patches.missing:  # with allow_missing: the record names the test nodules left out
        left_out = set(patches.missing) & fold_ids
        metrics = {**metrics, "left_out_missing_scans": sorted(left_out)}
    params = fitted.params
    if fitted.weights != NO_WEIGHTS:
        params = {**params, "weights_loaded": fitted.weights}  # which pretrained weights, if any
    record = new_record(
        method=job.method, fold=job.fold, seed=job.seed, profile=resolved.profile, method_params=params,
        source=job.source, source_settings=settings, protocol=protocol, folds_version=folds.version,
        nodules=nodules, metrics=metrics, device=_device_description(resolved.device), wall_time_s=fitted.seconds,
        coverage=coverage, method_code=method_code_digest(resolved.method_class), variant=variant.to_record(),
        selected_params=fitted.selected, isolation=fitted.isolation, resumed_from_epoch=fitted.resumed_from_epoch,
        warnings=list(fitted.warnings),
    )
    path = write_record(record, job.out_dir)
    clear_skip(job.out_dir, job.method, job.fold, job.seed, setting=record.setting)
    snapshots.discard(epochs_folder)
    checkpoints.discard(checkpointing)
    return record, path


@contextmanager
def _parameter_errors(resolved: Plan):
    """A method's own library refusing a parameter value (scikit-learn's checks, a ValueError naming the
    parameter) becomes a one-line :class:`ParameterError` naming the method; the original stays chained."""
    try:
        yield
    except ValueError as error:
        refused = refused_parameter(error, resolved.params, resolved.job.method)
        if refused is None:
            raise
        raise refused from error


def _device_description(device: str) -> str:
    if device.startswith("cuda"):
        import torch

        return f"{device} ({torch.cuda.get_device_name(torch.device(device))})"
    import platform

    return f"cpu ({platform.processor() or platform.machine()})"


@dataclass(frozen=True)
class FoldOutcome:
    fold: int
    path: Path
    skipped: bool  # the record existed and was kept
    record: RunRecord | None  # None when the fold was not scored
    skip_reason: str | None = None  # why not, e.g. "no test nodules present" (path: its skip marker)


def run_folds(jobs: Iterable[FoldJob], force: bool = False, registry: Registry | None = None,
              on_start: Callable[[FoldJob, bool], None] | None = None) -> list[FoldOutcome]:
    """Run each job unless its record exists (``force`` redoes it)."""
    outcomes = []
    for job in jobs:
        path = record_location(plan(job, registry))
        exists = path.is_file()
        if on_start:
            on_start(job, exists and not force)
        if exists and not force:
            outcomes.append(FoldOutcome(job.fold, path, True, read_record(path)))
            continue
        from lidcbench.results.skips import FoldSkipped

        try:
            record, path = run_fold(job, registry)
        except FoldSkipped as skipped:
            outcomes.append(FoldOutcome(job.fold, skipped.path, False, None, skipped.marker.reason))
            continue
        outcomes.append(FoldOutcome(job.fold, path, False, record))
    return outcomes


def fold_jobs(template: FoldJob, folds: Iterable[int]) -> list[FoldJob]:
    return [replace(template, fold=fold) for fold in folds]
