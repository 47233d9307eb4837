from __future__ import annotations

import pytest

from lidcbench.cohort import load_cohort
from lidcbench.database import load_annotations
from lidcbench.folds import load_folds
from lidcbench.protocol import Protocol


@pytest.fixture(scope="session")
def annotations():
    return load_annotations()


@pytest.fixture(scope="session")
def cohort():
    return load_cohort(Protocol())


@pytest.fixture(scope="session")
def folds():
    return load_folds()
