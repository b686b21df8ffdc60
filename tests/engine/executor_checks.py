"""Comparisons shared by the executor tests (thread/process pools and Dask)."""


def run_values(result):
    """Every run's numbers, controls included, in run order: equal lists = identical runs."""
    return [(r.gamma, r.chunk, r.mi, r.mi_val, r.best_epoch) for r in result.runs + result.controls]


def kept_runs_are_exact(partial, full) -> bool:
    """The runs a stopped analysis kept are the full analysis's runs, bit for bit."""
    expected = {(r.gamma, r.chunk): r.mi for r in full.runs}
    return all(expected[(r.gamma, r.chunk)] == r.mi for r in partial.runs)
