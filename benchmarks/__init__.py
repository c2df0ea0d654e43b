"""Side-by-side measurements of what the template generates; ``python -m benchmarks`` runs them.

Not collected by the template's test suite (``testpaths`` is ``tests``): figures
are printed and written to BENCHMARKS.md, never asserted.
"""
