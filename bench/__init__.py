"""Benchmarks and the fixtures they render; outside the runtime package, never imported by `qa`."""
