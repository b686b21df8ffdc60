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


def test_only_gammas_is_the_analysis_with_those_gammas():
    """recalibrate --gammas drops runs instead of training again: that is only right if a
    run's chunk and seed do not depend on the other gammas of its analysis."""
    import nmi_jupyter as nmi

    recalibrate = pytest.importorskip("recalibrate")
    x, y = nmi.generators.correlated_gaussians(600, 2, 1.0, seed=3)
    options = dict(seed=5, epochs=3, hidden_dim=16, control=False)
    full = nmi.rigorous(x, y, gammas=(1, 2, 3, 4), **options)
    fewer = nmi.rigorous(x, y, gammas=(1, 2, 4), **options)
    dropped = recalibrate.only_gammas(full, (1, 2, 4))
    assert dropped.gammas == (1, 2, 4)
    runs, trained = (sorted((r.gamma, r.chunk, r.mi) for r in rr.runs) for rr in (dropped, fewer))
    assert [r[:2] for r in runs] == [r[:2] for r in trained]
    # the same numbers (bit for bit here: a run's arithmetic does not depend on its company)
    assert [r[2] for r in runs] == pytest.approx([r[2] for r in trained], rel=1e-5)
    assert dropped.interval == pytest.approx(fewer.interval, rel=1e-4)
    assert recalibrate.training_samples(dropped.runs) < recalibrate.training_samples(full.runs)


def test_error_sources_separates_analysis_spread_data_spread_and_bias():
    """benchmarks/accuracy/error_sources.py: made-up analyses of two samples, two each."""
    sources = pytest.importorskip("error_sources")

    def row(data_seed, mi):
        return {
            "case": "c", "truth": 2.0, "data_seed": data_seed, "mi": mi, "lo": mi - 0.15,
            "hi": mi + 0.15, "reliable": mi < 2.2, "se_fit": 0.02, "se_data": 0.04,
            "se_model": 0.06,
        }  # fmt: skip

    # Sample 0 reads 2.1 and 2.3, sample 1 reads 1.9 and 2.1: bias +0.1 bits (5 % of the
    # truth); within a sample the analyses differ by 0.2 (variance 0.02); the samples'
    # means (2.2, 2.0) by 0.2 (variance 0.02, of which 0.01 is the analyses' spread that
    # a mean of two keeps), so the samples themselves vary by 0.01 (sd 0.1).
    s = sources.decompose([row(0, 2.1), row(0, 2.3), row(1, 1.9), row(1, 2.1)])
    assert s["bias"] == pytest.approx(0.05)
    assert s["rmse"] == pytest.approx(math.sqrt((0.01 + 0.09 + 0.01 + 0.01) / 4) / 2)
    assert s["sd_analysis"] == pytest.approx(math.sqrt(0.02) / 2)
    assert s["sd_data"] == pytest.approx(0.1 / 2)
    assert s["rmse_mean"] == pytest.approx(math.sqrt(0.02) / 2)
    assert (s["covered"], s["reliable"], s["per_sample"]) == (3, 3, 2)
    assert s["se_model"] == pytest.approx(0.03)
    assert s["half_width"] == pytest.approx(0.075)
    assert "+5.0" in sources.table([row(0, 2.1), row(0, 2.3), row(1, 1.9), row(1, 2.1)])


def test_error_sources_saves_strict_json_and_reads_its_nulls_back(tmp_path):
    sources = pytest.importorskip("error_sources")
    path = str(tmp_path / "rows.json")
    row = {"case": "c", "mi": 6.0, "lo": 5.8, "hi": math.inf, "se_model": math.nan}
    sources._save(path, [row])
    assert "Infinity" not in open(path).read() and "NaN" not in open(path).read()
    back = sources._load(path)[0]
    assert back["hi"] == math.inf and math.isnan(back["se_model"]) and back["lo"] == 5.8


def test_showcase_softplus_channels_keep_the_latent_recoverable():
    """The reference-design channels of benchmarks/showcase.py are fixed per side and
    injective (full-rank Jacobian everywhere), so their data carry the latents' 3 bits."""
    import numpy as np

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    showcase = pytest.importorskip("showcase")
    x, y = showcase.DATA["softplus"](0)
    x2, _ = showcase.DATA["softplus"](0)
    assert x.shape == y.shape == (showcase.N, showcase.OUT_DIM)
    np.testing.assert_array_equal(x, x2)
    rng = np.random.default_rng(1)
    for side in (0, 1):
        z = rng.standard_normal((3, showcase.LATENT_DIM))
        eps = 1e-6
        for point in z:
            jac = np.stack(
                [
                    (
                        showcase._softplus_channels(*[point + eps * e] * 2)[side]
                        - showcase._softplus_channels(*[point - eps * e] * 2)[side]
                    )
                    / (2 * eps)
                    for e in np.eye(showcase.LATENT_DIM)
                ],
                axis=1,
            )
            assert np.linalg.matrix_rank(jac, tol=1e-6) == showcase.LATENT_DIM
