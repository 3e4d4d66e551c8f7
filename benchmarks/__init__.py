"""Benchmarks (not timed tests): run each with ``python -m benchmarks.NAME``; results go to docs/benchmarks.md."""
