"""The fast header reader gives pydicom's values, or leaves the file to pydicom."""
import struct

import numpy as np
import pydicom
import pytest
from pydicom.dataset import Dataset
from pydicom.sequence import Sequence
from pydicom.uid import ExplicitVRBigEndian, ExplicitVRLittleEndian, ImplicitVRLittleEndian

from lidcbench.patches.sources.dicom_header import read_slice_header
from lidcbench.patches.sources.synthetic_ct import _dataset
from lidcbench.protocol.database import load_annotations


def _file(tmp_path, syntax, extra=0, sequence=False, name="a.dcm", instance=7):
    scan = load_annotations().table.query("scan_id == 1").iloc[0]
    dataset = _dataset(scan, -123.25, instance, np.zeros((8, 8)), (1.0, -1024.0))
    dataset.file_meta.TransferSyntaxUID = syntax
    for i in range(extra):  # vendor elements before and after group 0020, as scanner headers hold
        dataset.add_new((0x0019, 0x1000 + i), "LO", f"value {i}")
        dataset.add_new((0x0043, 0x1000 + i), "DS", str(i))
    if sequence:
        item = Dataset()
        item.ReferencedSOPInstanceUID = "1.2.3"
        item.StudyInstanceUID = "9.9.9"  # a nested UID must not be taken for the file's own
        dataset.ReferencedImageSequence = Sequence([item, item])
    path = tmp_path / name
    little = syntax != ExplicitVRBigEndian
    dataset.save_as(path, implicit_vr=syntax == ImplicitVRLittleEndian, little_endian=little,
                    enforce_file_format=True)
    return path, scan


@pytest.mark.parametrize("syntax", [ImplicitVRLittleEndian, ExplicitVRLittleEndian])
@pytest.mark.parametrize("sequence", [False, True])
@pytest.mark.parametrize("extra", [40, 400])  # 400: a header longer than the first read
def test_the_fast_reader_gives_pydicoms_values(tmp_path, syntax, sequence, extra):
    path, scan = _file(tmp_path, syntax, extra=extra, sequence=sequence)
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert read_slice_header(path) == (header.StudyInstanceUID, header.SeriesInstanceUID,
                                       float(header.ImagePositionPatient[2]), int(header.InstanceNumber))
    assert read_slice_header(path)[:3] == (scan["study_uid"], scan["series_uid"], -123.25)


def test_undefined_length_sequences_are_skipped(tmp_path):
    path, scan = _file(tmp_path, ImplicitVRLittleEndian)
    data = path.read_bytes()
    uid = b"1.2.3\x00"
    nested = struct.pack("<HHI", 0x0020, 0x000D, 6) + b"9.9.9\x00"  # a nested study UID, not the file's
    sequence = (struct.pack("<HHI", 0x0008, 0x1140, 0xFFFFFFFF)  # (0008,1140), undefined length
                + struct.pack("<HHI", 0xFFFE, 0xE000, 0xFFFFFFFF)  # an item of undefined length
                + struct.pack("<HHI", 0x0008, 0x1155, len(uid)) + uid + nested
                + struct.pack("<HHI", 0xFFFE, 0xE00D, 0)  # item delimiter
                + struct.pack("<HHI", 0xFFFE, 0xE000, len(uid) + 8)  # an item of defined length
                + struct.pack("<HHI", 0x0008, 0x1155, len(uid)) + uid
                + struct.pack("<HHI", 0xFFFE, 0xE0DD, 0))  # sequence delimiter
    at = data.index(struct.pack("<HH", 0x0010, 0x0020))  # before PatientID keeps the tags in order
    path.write_bytes(data[:at] + sequence + data[at:])
    header = pydicom.dcmread(path, stop_before_pixels=True)
    assert len(header.ReferencedImageSequence) == 2 and header.StudyInstanceUID == scan["study_uid"]
    assert read_slice_header(path)[:3] == (scan["study_uid"], scan["series_uid"], -123.25)


def test_files_it_does_not_expect_are_left_to_pydicom(tmp_path):
    big, _ = _file(tmp_path, ExplicitVRBigEndian, name="big.dcm")
    assert read_slice_header(big) is None
    garbage = tmp_path / "garbage.dcm"
    garbage.write_bytes(b"\x00" * 50 + b"not a dicom file")
    assert read_slice_header(garbage) is None
    good, _ = _file(tmp_path, ExplicitVRLittleEndian, name="cut.dcm")
    cut = tmp_path / "cut-header.dcm"
    cut.write_bytes(good.read_bytes()[:300])  # cut inside the header
    assert read_slice_header(cut) is None
