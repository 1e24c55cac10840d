"""Tracehound benchmark: load generator, payload generator and runner (see docs/benchmarks.md)."""
