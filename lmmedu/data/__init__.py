"""See the package docstring of :mod:`lmmedu`."""
