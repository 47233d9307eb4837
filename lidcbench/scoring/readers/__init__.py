"""One radiologist against the others, calibration and the models' worst mistakes.

Everything here comes from the readers' own ratings and the records'
predictions, so it works on any pixel source:

- :mod:`.pairs`: leave-one-reader-out (nodule, reader) pairs and their labels;
- :mod:`.bootstrap`: intervals that resample nodules, not pairs;
- :mod:`.comparison`: the readers' row, each method on the same pairs, and
  attribute errors on the same pairs and weights;
- :mod:`.calibration`: Brier score, expected calibration error, reliability curve;
- :mod:`.terminal`: the comparison as terminal tables.

The galleries of worst mistakes and the page's sections and figures are
reports (:mod:`lidcbench.reports.gallery`, :mod:`lidcbench.reports.readers_page`).
"""
