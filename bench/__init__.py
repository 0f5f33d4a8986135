"""Benchmarks (`python -m bench`, `python -m bench.fidelity`) and the fixtures they render: outside the
runtime package, never imported by `qa`; they drive `qa` as a user would."""
