"""Stage 1, the protocol: LIDC-IDRI annotations become labelled nodules in frozen folds.

The annotation database, the readers' marks grouped into nodules, the size
window and label rule, the cohort table, the five patient-grouped folds, the
card, the frozen files under ``data/``, the evaluation variants and the split
checker. Imports only the base modules
(``lidcbench.errors``, ``cachedir``, ``progress``).
"""
