import dataclasses
import json
import zlib

import numpy as np
import pytest

from lidcbench import cachedir
from lidcbench.cli import main
from lidcbench.errors import CacheError, PatchesError
from lidcbench.patches import patchfile, rendering
from lidcbench.patches.cache import cache_entries, leftover_files, load_patches, read_patches
from lidcbench.patches.sources import contours
from lidcbench.patches.sources.contours import ContoursSource

SIZE = 32
zlib_crc32 = zlib.crc32


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("LIDCBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(rendering, "CHUNK_SLICES", 8)  # several chunks even for a few nodules
    return tmp_path / "cache"


@pytest.fixture(scope="module")
def small(cohort):
    return dataclasses.replace(cohort, table=cohort.table.iloc[:10].reset_index(drop=True))


def _load(cohort, **options):
    return load_patches(cohort, "contours", size=SIZE, progress=False, workers=1, **options)


def _only_file(isolated_cache):
    files = list((isolated_cache / "patches").glob("*.patches"))
    assert len(files) == 1
    return files[0]


def test_patches_are_built_once_then_read_back_identical(small, isolated_cache, monkeypatch):
    built = _load(small)
    assert built.images.dtype == np.float16 and built.images.shape[1:] == (SIZE, SIZE)
    assert built.nodule_slices().equals(small.slices())
    assert built.source == "contours" and built.settings["size"] == SIZE and built.settings["version"] >= 1
    path = _only_file(isolated_cache)
    assert path.name == f"{built.key}.patches"
    monkeypatch.setattr(ContoursSource, "render_nodule", lambda *a: pytest.fail("rendered again"))
    again = _load(small)
    assert np.array_equal(again.images, built.images) and again.key == built.key
    assert np.array_equal(again.nodule_ids, built.nodule_ids)


def test_an_opened_file_is_mapped_read_only_checked_once_per_process_and_read_afresh_when_replaced(
        small, isolated_cache, monkeypatch):
    built = _load(small)
    path = _only_file(isolated_cache)
    opened = _load(small)
    assert isinstance(opened.images.base, np.memmap) or isinstance(opened.images.base.base, np.memmap)
    assert not opened.images.flags.writeable and opened.images.dtype == np.float16
    checks = []
    monkeypatch.setattr(patchfile.zlib, "crc32", lambda data, *a: checks.append(1) or zlib_crc32(data, *a))
    assert _load(small) is opened and not checks  # a second fold of the same run: no second pass
    cachedir.write_atomically(path, path.read_bytes())  # the same bytes, but a new file on disk
    again = _load(small)
    assert again is not opened and checks and np.array_equal(again.images, built.images)


def test_stored_float16_stays_within_its_precision_of_the_rendered_pixels(small):
    patches = _load(small)
    row = small.table.iloc[3]
    rendered, _ = ContoursSource().render_nodule(row, SIZE)
    stored = patches.select([row["nodule_id"]]).images
    assert np.abs(stored - rendered).max() <= 2.5e-4


def test_parallel_build_equals_serial_build(small, tmp_path):
    serial = _load(small, cache_dir=tmp_path / "serial")
    parallel = load_patches(small, "contours", size=SIZE, progress=False, workers=2, cache_dir=tmp_path / "parallel")
    assert np.array_equal(serial.images, parallel.images) and serial.key == parallel.key


class CrashingSource(ContoursSource):
    """Renders a few nodules, checks their chunks reached the temporary file, then fails."""

    def __init__(self, patches_dir, after):
        super().__init__()
        self.patches_dir, self.after, self.rendered = patches_dir, after, 0

    def render_nodule(self, row, size):
        self.rendered += 1
        if self.rendered > self.after:
            (partial,) = self.patches_dir.glob(f".*{cachedir.TEMPORARY_SUFFIX}")
            assert partial.stat().st_size > len(patchfile.MAGIC)
            raise RuntimeError("simulated crash")
        return super().render_nodule(row, size)


def test_a_crash_while_writing_leaves_no_file_that_loads(small, isolated_cache):
    with pytest.raises(RuntimeError, match="simulated crash"):
        load_patches(small, CrashingSource(isolated_cache / "patches", after=6), size=SIZE, progress=False, workers=1)
    assert not list((isolated_cache / "patches").glob("*"))  # neither the file nor its temporary
    assert len(_load(small)) == small.table["n_slices"].sum()


def test_a_killed_writer_leaves_only_a_temporary_file_that_is_never_read(small, isolated_cache):
    built = _load(small)
    path = _only_file(isolated_cache)
    # What a kill -9 between writing and renaming leaves: half a file under a temporary name.
    leftover = path.with_name(f".{path.name}.12345{cachedir.TEMPORARY_SUFFIX}")
    leftover.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    path.unlink()
    rebuilt = _load(small)
    assert np.array_equal(rebuilt.images, built.images)
    assert leftover_files() == [leftover]
    assert main(["cache", "clear"]) == 0 and not leftover.exists()


@pytest.mark.parametrize("damage", ["flipped bytes", "cut short", "not a patch file"])
def test_a_damaged_file_is_detected_and_rebuilt(small, isolated_cache, damage):
    built = _load(small)
    path = _only_file(isolated_cache)
    data = bytearray(path.read_bytes())
    if damage == "flipped bytes":
        data[len(patchfile.MAGIC) + 100] ^= 0xFF
    elif damage == "cut short":
        data = data[: len(data) - 200]
    else:
        data = b"something else entirely" + data
    path.write_bytes(bytes(data))
    with pytest.raises(CacheError):
        read_patches(path, built.key, small.table)
    rebuilt = _load(small)
    assert np.array_equal(rebuilt.images, built.images)
    assert read_patches(path, built.key, small.table).key == built.key


def test_a_new_rendering_version_builds_a_new_entry(small, isolated_cache, monkeypatch):
    old = _load(small)
    monkeypatch.setattr(contours, "RENDER_VERSION", contours.RENDER_VERSION + 1)
    new = _load(small)
    assert new.key != old.key and new.settings["version"] == old.settings["version"] + 1
    assert len(cache_entries()) == 2


def test_a_file_in_another_format_version_is_rebuilt_not_misread(small, isolated_cache, monkeypatch):
    _load(small)
    path = _only_file(isolated_cache)
    monkeypatch.setattr(patchfile, "FORMAT_VERSION", patchfile.FORMAT_VERSION + 1)
    with pytest.raises(CacheError, match="format"):
        patchfile.read_header(path)
    _load(small)  # reads the old file, rejects it, writes the new format under the same name
    assert patchfile.read_header(path)["format"] == patchfile.FORMAT_VERSION


def test_select_returns_the_nodules_asked_for_in_that_order(small):
    patches = _load(small)
    wanted = [small.table["nodule_id"].iat[4], small.table["nodule_id"].iat[1]]
    chosen = patches.select(wanted)
    assert list(dict.fromkeys(chosen.nodule_ids)) == wanted
    assert len(chosen) == sum(small.table.set_index("nodule_id").loc[wanted, "n_slices"])
    first = patches.nodule_ids == wanted[0]
    assert np.array_equal(chosen.images[: first.sum()], patches.images[first])
    with pytest.raises(PatchesError, match="no patches"):
        patches.select(["LIDC-IDRI-9999-00000000"])


def test_patch_size_must_be_usable(small):
    with pytest.raises(PatchesError, match="patch size"):
        load_patches(small, "contours", size=2, progress=False)


def test_cache_info_lists_the_key_and_size_after_a_build_and_clear_empties_it(capsys, isolated_cache):
    arguments = ["--size", "16", "--diameter-min", "28", "--workers", "1"]
    assert main(["cache", "build", *arguments]) == 0
    key = capsys.readouterr().out.split(":")[0]
    assert main(["cache", "info"]) == 0
    listing = capsys.readouterr().out
    assert key in listing and "contours 16 px" in listing and "MB" in listing
    assert main(["cache", "info", "--json"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)["entries"]
    assert entry["key"] == key and entry["bytes"] > 0 and entry["size"] == 16
    assert main(["cache", "clear", "--key", "no-such-key"]) == 2
    assert main(["cache", "clear", "--key", key]) == 0
    assert not list((isolated_cache / "patches").glob("*.patches"))


def test_a_file_for_other_nodules_is_refused_and_the_key_follows_protocol_and_nodules(small, isolated_cache):
    from lidcbench.patches.cache import cache_key

    built = _load(small)
    path = _only_file(isolated_cache)
    fewer = small.table.iloc[:9]
    with pytest.raises(CacheError, match="holds other nodules"):
        read_patches(path, built.key, fewer)  # the right key but a different nodule list
    source = ContoursSource()
    ids = small.table["nodule_id"].tolist()
    key = cache_key(source, small.protocol.hash, SIZE, ids)
    assert key == built.key == cache_key(source, small.protocol.hash, SIZE, list(ids))
    assert cache_key(source, "0000000000", SIZE, ids) != key
    assert cache_key(source, small.protocol.hash, SIZE, ids[:-1]) != key
    assert cache_key(source, small.protocol.hash, SIZE, ids[::-1]) != key
