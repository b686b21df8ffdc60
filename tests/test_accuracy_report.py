"""The accuracy benchmark's scoring (benchmarks/accuracy/run.py), on made-up rows."""

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks" / "accuracy"))
run = pytest.importorskip("run")


def _row(family, truth, estimate, lo, hi, reliable=True):
    return run.Row("c", family, "infonce", 0, 1000, truth, estimate, lo, hi, reliable)


def test_summary_scores_coverage_misses_and_flags():
    rows = [
        _row("gaussian", 2.0, 2.1, 1.9, 2.3),  # covered, good
        _row("latent", 2.0, 1.8, 1.7, 1.9),  # not covered, good (-10 %)
        _row("gaussian", 10.0, 6.0, 5.8, math.inf, reliable=False),  # one-sided: covered, miss
        _row("student_t", 1.0, 1.3, 1.2, 1.4),  # miss called reliable
        _row("independent", 0.0, 0.01, -0.01, 0.03),
    ]
    text = "\n".join(run.summary_lines(rows, 0.68))
    assert "coverage, gaussian + latent: 2/3 = 67%" in text
    assert "misses flagged unreliable: 1/2 = 50%" in text
    assert "misses called reliable: c/infonce" in text
    assert "good estimates with no flag: 3/3 = 100%" in text
    # the one-sided interval has no width: the median is over the three two-sided ones
    assert "two-sided intervals (MI > 0): 0.100 bits" in text
