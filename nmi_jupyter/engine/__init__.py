"""The computational engine: numpy, scipy and torch only, no Jupyter imports."""
