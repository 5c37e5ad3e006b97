"""Benchmarks that print figures (run them as modules: `venv/bin/python -m bench.<name>`)."""
