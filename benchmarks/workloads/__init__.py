"""What the benchmarks measure, one module per workload, on top of benchmarks/harness."""
