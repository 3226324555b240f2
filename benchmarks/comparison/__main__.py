"""``python -m comparison`` (from benchmarks/), the same as ``python benchmarks/compare.py``."""

from .cli import main

main()
