"""Benchmarks of appenv.python against the alternatives a user would otherwise reach for.

`make bench` (= `python -m bench.run`) runs every registered scenario, writes every sample to
`bench/results/<date>-<host>.json` and regenerates the table in docs/performance.md.
Speed is measured here, never in timed tests.
"""
