"""What the leakage guard costs per fold: fit and predict of one real fold, guarded and not.

    python benchmarks/isolation_cost.py tiny
    python benchmarks/isolation_cost.py mtmr --set epochs=1 --repeats 1

Loads the fold's cohort and patches once, then times lidcbench.running.isolation.fit_predict
with the guard off (in this process) and on (a forkserver child). The forkserver
starts while the fold loads, as in run_fold; the first guarded call waits for any of
its imports still running. Prints seconds.
"""
from __future__ import annotations

import argparse
import os
import statistics
import time


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("method")
    parser.add_argument("--fold", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--set", action="append", default=[], metavar="NAME=VALUE")
    args = parser.parse_args()

    from lidcbench.cli.run import _parameter
    from lidcbench.method import FoldData
    from lidcbench.patches.cache import load_patches
    from lidcbench.protocol.cohort import load_cohort
    from lidcbench.protocol.folds import load_folds
    from lidcbench.running.fold import FoldJob, plan, source_and_settings
    from lidcbench.running.isolation import ISOLATION_ENV, fit_predict, label_sources, start_early

    job = FoldJob(args.method, args.fold, params=dict(_parameter(text) for text in args.set))
    resolved = plan(job)
    start_early(resolved.method_class)  # as run_fold does: the forkserver's imports overlap the loading below
    cohort, folds = load_cohort(), load_folds()
    source, _ = source_and_settings(job, resolved.patch_size)
    patches = load_patches(cohort, source, size=resolved.patch_size, progress=False)
    train_table, test_table = folds.split(cohort, args.fold)
    train = FoldData(train_table, patches.select(train_table["nodule_id"]), labelled=True)
    test = FoldData.unlabelled(test_table, patches.select(test_table["nodule_id"]))
    refused = label_sources(cohort.db_path, [job.out_dir])
    print(f"{args.method} fold {args.fold}: {len(train.patches)} training and {len(test.patches)} test patches "
          f"({(train.patches.images.nbytes + test.patches.images.nbytes) / 1e6:.0f} MB)")
    times: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    for repeat in range(args.repeats + 1):
        for mode in ("off", "on"):
            os.environ[ISOLATION_ENV] = mode
            started = time.perf_counter()
            fitted = fit_predict(resolved.method_class, resolved.params, train, test, refused)
            total = time.perf_counter() - started
            if repeat == 0 and mode == "on":
                print(f"first guarded fold (after the forkserver started during loading): {total:.2f} s, of which fit+predict "
                      f"{fitted.seconds:.2f} s")
            elif repeat > 0:
                times[mode].append((total, fitted.seconds))
    for mode, rows in times.items():
        overhead = [total - inner for total, inner in rows]
        print(f"guard {mode:3}: wall {statistics.median(t for t, _ in rows):.2f} s, fit+predict "
              f"{statistics.median(i for _, i in rows):.2f} s, overhead {statistics.median(overhead):.2f} s "
              f"(median of {len(rows)})")


if __name__ == "__main__":
    main()
