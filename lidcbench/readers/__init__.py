"""One radiologist against the others, calibration and the models' worst mistakes.

Everything here comes from the readers' own ratings and the records'
predictions, so it works on any pixel source:

- :mod:`.pairs`: leave-one-reader-out (nodule, reader) pairs and their labels;
- :mod:`.bootstrap`: intervals that resample nodules, not pairs;
- :mod:`.comparison`: the readers' row, each method on the same pairs, and
  attribute errors on the same pairs and weights;
- :mod:`.calibration`: Brier score, expected calibration error, reliability curve;
- :mod:`.gallery`: the most confident false positives and negatives, as patches;
- :mod:`.view`: the leaderboard page's sections and figures.
"""
