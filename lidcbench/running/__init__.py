"""Stage 7, running: a fold job from plan to record, behind the wall between a method and the labels.

:mod:`.fold` (plan a job, run one fold), :mod:`.isolation` (fit and predict in
a guarded child process), :mod:`.wall` (Landlock around that child on Linux),
:mod:`.forkserver_gate` and :mod:`.channel` (the two doors around the wall), :mod:`.executors` (the grid, local workers,
SLURM) and :mod:`.size_baseline` (the diameter method run in-process where no record holds it).
Imports results, scoring, training and the stages below them.
"""
