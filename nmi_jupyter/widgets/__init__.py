"""Notebook views of engine events and results.  They observe; they never train."""
