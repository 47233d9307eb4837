"""Throughput: a method's network, its training loop and the data path, timed honestly.

:mod:`.throughput` (``Workload`` and the timings) and :mod:`.benchrecord` (bench
records and ``throughput.md``). Imports training and the stages below it.
"""
