"""Faithful stand-ins for remote systems, for tests, demos and benchmarks (never used in production paths)."""
