"""HiLight's benchmarks: scripts (`python -m benchmarks.bench_NAME`) and `python -m benchmarks`, which runs
them all and writes the one results table (benchmarks/results.md, copied into the README)."""
