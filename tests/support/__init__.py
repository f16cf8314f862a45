"""Helpers shared by the test suite (databases, shared data, CLI runs)."""
