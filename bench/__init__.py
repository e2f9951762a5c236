"""Benchmarks (not part of the test suite); see DESIGN.md."""
