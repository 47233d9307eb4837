"""Stage 7, running: a fold job from plan to record, behind the wall between a method and the labels.

:mod:`.fold` (plan a job, run one fold), :mod:`.isolation` (fit and predict in
a guarded child process) and :mod:`.executors` (the grid, local workers,
SLURM). Imports results, scoring, training and the stages below them.
"""
