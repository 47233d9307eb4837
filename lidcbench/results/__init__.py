"""Stage 6, results: the records a run writes and the reports read, one JSON file per method × fold × seed.

:mod:`.records` (typed, versioned records with provenance), :mod:`.skips`
(markers of folds skipped on purpose) and :mod:`.coverage` (how much of the
cohort a record scored). Imports scoring and the stages below it.
"""
