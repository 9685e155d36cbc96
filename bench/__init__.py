"""Benchmarks for stigmer-sessions; run with ``python -m bench`` (or ``make bench``)."""
