"""The benchmark harness: database, servers, load generation, CPU metering, results.

Workloads (benchmarks/workloads/) say what to measure and what to check; the harness knows
nothing of flags or audit entries, so a new workload (batches, feed delivery, statistics,
tokens) is a new module there and a few lines in its entry script, not a change here.
"""
