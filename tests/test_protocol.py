import dataclasses
import hashlib
import json
from pathlib import Path

import pytest

from lidcbench.errors import ProtocolError
from lidcbench.protocol.rules import Protocol


def test_default_is_the_papers_protocol():
    protocol = Protocol()
    assert (protocol.diameter_min_mm, protocol.diameter_max_mm) == (3.0, 30.0)
    assert protocol.diameter == "mean" and protocol.aggregate == "mean" and protocol.min_readers == 1


def test_hash_is_short_stable_and_changes_with_every_field():
    base = Protocol()
    assert base.hash == Protocol().hash and len(base.hash) == 10
    # The hash is a digest of exactly the documented rules: the paper's protocol written out here by hand.
    rules = {"schema": 1, "diameter_min_mm": 3.0, "diameter_max_mm": 30.0, "diameter": "mean", "min_readers": 1,
             "aggregate": "mean", "max_annotations": 4, "oversized_clusters": "exclude",
             "out_of_range_ratings": "clip"}
    assert base.hash == hashlib.sha256(json.dumps(rules, sort_keys=True).encode()).hexdigest()[:10]
    # It names the committed records and pages: a change to it would orphan them.
    root = Path(__file__).resolve().parents[1]
    assert any(p.name.startswith(f"{base.hash}-") for p in (root / "results").iterdir())
    assert any(p.name.startswith(f"{base.hash}-") for p in (root / "leaderboards").glob("*.md"))
    changes = {"diameter_min_mm": 4.0, "diameter_max_mm": 20.0, "diameter": "max", "min_readers": 2,
               "aggregate": "median", "max_annotations": 3, "oversized_clusters": "keep",
               "out_of_range_ratings": "exclude", "label": "any-reader-4"}
    assert set(changes) == {f.name for f in dataclasses.fields(Protocol)}
    hashes = {base.with_changes(**{name: value}).hash for name, value in changes.items()}
    assert len(hashes) == len(changes) and base.hash not in hashes


def test_protocol_is_frozen_and_hashable():
    protocol = Protocol()
    with pytest.raises(dataclasses.FrozenInstanceError):
        protocol.min_readers = 3
    assert {protocol: 1}[Protocol()] == 1


@pytest.mark.parametrize("options, message", [
    ({"diameter_window": 3}, "unknown protocol option"),
    ({"aggregate": "mode"}, "aggregate='mode'"),
    ({"diameter": "min"}, "diameter='min'"),
    ({"diameter_min_mm": 30, "diameter_max_mm": 3}, "empty"),
    ({"min_readers": 0}, "min_readers"),
])
def test_bad_options_are_named_errors(options, message):
    with pytest.raises(ProtocolError, match=message):
        Protocol.from_options(**options)
