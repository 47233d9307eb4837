import numpy as np
import pandas as pd
import pytest

from lidcbench.protocol.attributes import RATINGS
from lidcbench.protocol.cohort import DIAMETER, INDETERMINATE, OVERSIZED, build_cohort, load_cohort
from lidcbench.protocol.grouping import ids_for_groups, load_grouping, nodule_id
from lidcbench.protocol.rules import Protocol


def test_every_nodule_obeys_the_default_rules(cohort):
    table = cohort.table
    assert len(table) > 1000 and table["nodule_id"].is_unique
    assert table["diameter_mean_mm"].between(3, 30).all()
    assert not np.isclose(table["malignancy"], 3).any()
    assert ((table["malignancy"] > 3) == (table["label"] == 1)).all()
    assert (table["n_readers"] <= 4).all()
    assert (table["n_slices"] == table["slices"].map(len)).all() and (table["n_slices"] >= 1).all()


def test_ratings_are_the_readers_mean_and_targets_are_scaled_by_each_scale(cohort):
    row = cohort.table.iloc[0]
    for rating in RATINGS:
        readers = row[f"readers_{rating.name}"]
        assert row[rating.name] == pytest.approx(np.mean(readers))
        expected = (np.mean(readers) - rating.low) / (rating.high - rating.low)
        assert row[f"target_{rating.name}"] == pytest.approx(expected)
    targets = cohort.table[[f"target_{r.name}" for r in RATINGS]]
    assert ((targets >= 0) & (targets <= 1)).all().all()


def test_median_aggregation_and_max_diameter_change_the_cohort_as_stated(annotations):
    grouping = load_grouping(annotations)
    median = build_cohort(Protocol(aggregate="median"), annotations, grouping).table
    row = median.iloc[0]
    assert row["malignancy"] == np.median(row["readers_malignancy"])
    biggest = build_cohort(Protocol(diameter="max"), annotations, grouping).table
    assert biggest["diameter_max_mm"].between(3, 30).all()


def test_exclusions_are_recorded_with_the_first_rule_that_applies(cohort):
    candidates = cohort.candidates
    assert len(candidates) == len(cohort.table) + (candidates["excluded_by"] != "").sum()
    oversized = candidates["n_readers"] > 4
    assert oversized.any() and (candidates.loc[oversized, "excluded_by"] == OVERSIZED).all()
    outside = ~oversized & ~candidates["diameter_mean_mm"].between(3, 30)
    assert (candidates.loc[outside, "excluded_by"] == DIAMETER).all()
    threes = candidates["excluded_by"] == INDETERMINATE
    assert np.isclose(candidates.loc[threes, "malignancy"], 3).all()


def test_out_of_range_rating_is_clipped_by_default_and_can_exclude(annotations, cohort):
    flagged = cohort.candidates[cohort.candidates["out_of_range"]]
    assert len(flagged) >= 1
    assert cohort.candidates["readers_internal_structure"].map(max).max() <= 4
    strict = build_cohort(Protocol(out_of_range_ratings="exclude"), annotations, load_grouping(annotations))
    assert not set(flagged["nodule_id"]) & set(strict.table["nodule_id"])


def test_nodule_ids_do_not_depend_on_row_or_cluster_order(annotations):
    grouping = load_grouping(annotations)
    groups = list(grouping.values())
    rng = np.random.default_rng(1)
    shuffled = [list(rng.permutation(g)) for g in rng.permutation(np.array(groups, dtype=object))]
    assert ids_for_groups(annotations, shuffled) == grouping
    row = annotations.by_id().loc[groups[0]]
    assert nodule_id(row["patient_id"].iat[0], row["series_uid"].iat[0], row["fingerprint"][::-1]) in grouping


def test_loading_the_cohort_is_cached_per_protocol():
    assert load_cohort(Protocol()) is load_cohort(Protocol())


def test_slices_table_has_one_row_per_nodule_slice(cohort):
    slices = cohort.slices()
    assert len(slices) == cohort.table["n_slices"].sum()
    assert isinstance(slices, pd.DataFrame) and set(slices.columns) == {"nodule_id", "slice_index"}


def _fresh_load(protocol, db_path=None):
    from lidcbench.protocol import cohort as cohort_module

    cohort_module._load_cohort.cache_clear()
    return load_cohort(protocol, db_path)


def test_the_cohort_cache_on_disk_gives_the_same_cohort_and_a_damaged_file_is_rebuilt(tmp_path, monkeypatch, cohort,
                                                                                        capsys):
    from lidcbench.protocol import cohort as cohort_module

    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path))
    protocol = Protocol(min_readers=2)
    path = cohort_module.cache_path(protocol)
    assert path.parent == cohort_module.cache_dir() == tmp_path / "cohort"
    assert protocol.hash in path.name and cohort_module.database_checksum(cohort.db_path) in path.name
    built = _fresh_load(protocol)
    assert path.is_file()
    assert f"building the cohort of protocol {protocol.hash}" in capsys.readouterr().err  # seconds of work, said
    loaded = _fresh_load(protocol)
    assert "building" not in capsys.readouterr().err  # read from the cache
    pd.testing.assert_frame_equal(loaded.table, built.table)
    pd.testing.assert_frame_equal(loaded.candidates, built.candidates)
    assert loaded.protocol == protocol and loaded.db_path == built.db_path

    path.write_bytes(path.read_bytes()[:1000])  # truncated, as by a full disk
    rebuilt = _fresh_load(protocol)
    pd.testing.assert_frame_equal(rebuilt.table, built.table)
    assert cohort_module._read_cached(path, protocol) is not None, "the damaged file was not replaced"


def test_the_cohort_cache_is_keyed_by_the_database_and_the_code(tmp_path, monkeypatch, cohort):
    from lidcbench.protocol import cohort as cohort_module

    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path))
    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(cohort.db_path.read_bytes())
    assert cohort_module.cache_path(Protocol(), copy) == cohort_module.cache_path(Protocol(), cohort.db_path)
    with open(copy, "r+b") as file:  # one byte changed, same size
        file.seek(100)
        byte = file.read(1)
        file.seek(100)
        file.write(bytes([byte[0] ^ 1]))
    assert cohort_module.cache_path(Protocol(), copy) != cohort_module.cache_path(Protocol(), cohort.db_path)
    before = cohort_module.cache_path(Protocol(), cohort.db_path)
    cohort_module.code_version.cache_clear()
    monkeypatch.setattr(cohort_module, "COHORT_CACHE_FORMAT", cohort_module.COHORT_CACHE_FORMAT + 1)
    try:
        assert cohort_module.cache_path(Protocol(), cohort.db_path) != before
    finally:
        cohort_module.code_version.cache_clear()
