"""Stage 5, scoring: predictions become nodule-level metrics, attribute errors and the readers' yardsticks.

:mod:`.metrics`, :mod:`.score` (a fold's score and the summary over folds),
:mod:`.yardsticks`, :mod:`.overseeds`, :mod:`.scoreview` (terminal tables) and
:mod:`.readers` (one radiologist against the others, calibration). Imports the
plugin contract and the stages below it.
"""
