"""Where fold jobs run: a grid of (method, fold, seed) jobs handed to an executor.

- :mod:`.grid`: the jobs of a run, which of them are recorded, and the checks made before any starts.
- :mod:`.local`: in this process, or in worker processes with their share of the cores and a GPU each.
- :mod:`.slurm`: a SLURM job array through submitit (an optional extra).
- :mod:`.view`: one live view of running and finished jobs, whatever the executor.

Nothing about a method or the scorer changes with the executor: every job is
:func:`lidcbench.running.fold.run_fold` on one :class:`lidcbench.running.fold.FoldJob`. This
package imports nothing heavy at import time (workers set their thread limits
before torch and numpy load).
"""
