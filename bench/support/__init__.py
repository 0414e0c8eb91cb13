"""What the benchmarks share besides bench/common.py: servers, sample data, the peer's driver.

Kept in a package of its own so bench/run_all.py, which runs every bench/<name>.py module,
never mistakes a helper for a benchmark.
"""
