"""Benchmarks (`make bench`): `python -m bench.listing --help`."""
