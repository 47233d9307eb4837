"""The four header values the slice index needs, read straight from a file's first bytes.

pydicom parses every element before the pixel data into Python objects even
with ``specific_tags``: about 3 ms a file for a scanner header of ~150
elements, 12 minutes of one core for LIDC-IDRI's ~240,000 files. This reader
walks the element headers only (tag, VR, length, then a jump), in the two
little-endian transfer syntaxes LIDC-IDRI uses, and stops after (0020,0032).
Anything it does not expect (no DICM preamble, big endian, deflate, a header
longer than 64 KB, a malformed element) returns None, and the
caller reads the file with pydicom instead, which then gives the same values
or the error.
"""
from __future__ import annotations

import struct
from pathlib import Path

# Bytes read first, then once more if the header runs past them: a scanner's header is a
# few KB, and reading 64 KB of each of 240,000 files would be 15 GB from a cold disk.
HEAD_BYTES = (8192, 65536)
IMPLICIT_LE = "1.2.840.10008.1.2"
BIG_ENDIAN = "1.2.840.10008.1.2.2"
DEFLATED = "1.2.840.10008.1.2.1.99"
_LONG_VRS = {b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UT", b"UN", b"UC", b"UR", b"SV", b"UV"}
_UNDEFINED = 0xFFFFFFFF
_WANTED = {0x0020000D: "study", 0x0020000E: "series", 0x00200013: "instance", 0x00200032: "position"}
_LAST_WANTED = 0x00200032
_ITEM_END, _SEQUENCE_END = 0xFFFEE00D, 0xFFFEE0DD


class _Unexpected(Exception):
    """Leave this file to pydicom."""


class _RanOut(_Unexpected):
    """The header goes on past the bytes read."""


def read_slice_header(path: Path) -> tuple[str, str, float, int] | None:
    """(study UID, series UID, z of ImagePositionPatient, InstanceNumber or 0), or None for pydicom to read."""
    with open(path, "rb") as file:
        data = file.read(HEAD_BYTES[0])
        try:
            return _parse(data)
        except _RanOut:
            data += file.read(HEAD_BYTES[1] - len(data))
        except (_Unexpected, struct.error, ValueError, IndexError, UnicodeDecodeError):
            return None
    try:
        return _parse(data)
    except (_Unexpected, struct.error, ValueError, IndexError, UnicodeDecodeError):
        return None


def _parse(data: bytes) -> tuple[str, str, float, int] | None:
    if data[128:132] != b"DICM":
        raise _Unexpected
    position, syntax = 132, None
    while struct.unpack_from("<H", data, position)[0] == 0x0002:  # file meta: always explicit VR LE
        tag, start, length, position = _element(data, position, explicit=True)
        if tag == 0x00020010:
            syntax = _text(data[start:start + length])
    if syntax in (None, BIG_ENDIAN, DEFLATED):
        raise _Unexpected
    explicit = syntax != IMPLICIT_LE
    found: dict[str, str] = {}
    while position < len(data):
        tag, start, length, end = _element(data, position, explicit)
        if tag > _LAST_WANTED:
            break
        if tag in _WANTED:
            found[_WANTED[tag]] = _text(data[start:start + length])
        position = end
    else:
        raise _RanOut
    if not {"study", "series", "position"} <= set(found):
        raise _Unexpected  # pydicom decides what a file without them is
    z = float(found["position"].split("\\")[2])
    instance = found.get("instance", "")
    return found["study"], found["series"], z, int(instance) if instance else 0


def _element(data: bytes, position: int, explicit: bool) -> tuple[int, int, int, int]:
    """(tag, value start, value length, next element's position) of the element at ``position``."""
    if position + 12 > len(data):
        raise _RanOut
    group, element = struct.unpack_from("<HH", data, position)
    tag = group << 16 | element
    if not explicit or group == 0xFFFE:  # item tags carry no VR in either syntax
        (length,), start = struct.unpack_from("<I", data, position + 4), position + 8
    else:
        vr = data[position + 4:position + 6]
        if not (vr.isalpha() and vr.isupper()):
            raise _Unexpected
        if vr in _LONG_VRS:
            (length,), start = struct.unpack_from("<I", data, position + 8), position + 12
        else:
            (length,), start = struct.unpack_from("<H", data, position + 6), position + 8
    if length == _UNDEFINED:
        return tag, start, 0, _skip_undefined(data, start, explicit)
    if start + length > len(data):
        raise _RanOut
    return tag, start, length, start + length


def _skip_undefined(data: bytes, position: int, explicit: bool) -> int:
    """The position after the delimiter that ends a sequence or item of undefined length
    whose content starts at ``position`` (nested ones are skipped by :func:`_element`)."""
    while True:
        if position + 8 > len(data):
            raise _RanOut
        tag, start, _, end = _element(data, position, explicit)
        if tag in (_SEQUENCE_END, _ITEM_END):
            return start
        position = end


def _text(value: bytes) -> str:
    return value.decode("ascii").strip("\x00 ")
