import pytest

from lidcbench.protocol.grouping import cluster_all, load_grouping


@pytest.mark.slow
def test_clustering_from_scratch_reproduces_the_frozen_grouping(annotations):
    assert cluster_all(annotations, progress=False) == load_grouping(annotations)
