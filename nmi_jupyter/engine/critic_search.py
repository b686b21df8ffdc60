"""Choosing the critic's size from the data when samples are few per input feature.

With few samples in many dimensions (the reference library's showcase: a 10-d latent
seen through 100 channels, N = 2000) the default critic (two hidden layers of 64,
embedding 64) memorises the large chunks of a rigorous analysis and is starved on the
small ones, so its training MI falls with gamma and the extrapolation lands 15-20 %
high; the validation MI, a held-out bound, stays far below.  Smaller critics (one
hidden layer) do not memorise as much, and which size suits the data is not known in
advance.  The evidence that a critic memorises is in the result itself: the gap
between the extrapolations of its training and its validation MI (the model term of
the interval, ``fit.se_model``).

Opt-in (``critic_search=True``; measured, it helps the family it was built on and hurts
others in the same regime: README, "Few samples per feature").  Where every smallest
chunk holds fewer than :data:`FEW_PER_FEATURE` training samples
per input feature and the default critic's training-MI intercept lies more than
:data:`GAP_FRACTION` of the corrected MI above its validation-MI intercept, the analysis
is repeated with each of :data:`CANDIDATES` (same seeds, same chunks) and the result
whose two extrapolations agree best (smallest absolute gap) is kept; its settings
record every candidate tried (``settings["critic_choice"]``).  Measured in
``docs/research/showcase.md`` (``benchmarks/showcase.py --levers search,default``).
Elsewhere the default critic is kept untouched: on the accuracy suite the same choice
made some results worse (for example a 20-d Gaussian with 5.8 bits, whose gap comes
from the small validation sets' bias at high MI, not from memorising; ``latent 2 ->
100`` with N = 5000).

Pure decisions here; :func:`nmi_jupyter.engine.api.rigorous` trains the candidates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.options import (
    DEFAULT_EMBEDDING_DIM,
    DEFAULT_HIDDEN_DIM,
    DEFAULT_N_LAYERS,
    DEFAULT_WEIGHT_DECAY,
)
from nmi_jupyter.engine.plan import chunk_sizes
from nmi_jupyter.engine.rigorous_result import RigorousResult
from nmi_jupyter.engine.sweep_result import SweepPoint

T = TypeVar("T")

__all__ = [
    "CANDIDATES",
    "FEW_PER_FEATURE",
    "GAP_FRACTION",
    "searchable",
    "few_per_feature",
    "memorises",
    "applies",
    "gap_of",
    "choose",
    "search_record",
    "candidates",
    "strongest",
    "search",
    "Scan",
    "search_scan",
]

# Smaller critics tried after the default one (options on top of the analysis' own):
# one hidden layer; one hidden layer with a 32-wide embedding and a little weight decay.
CANDIDATES: tuple[dict[str, Any], ...] = (
    {"n_layers": 1},
    {"n_layers": 1, "embedding_dim": 32, "weight_decay": 1e-2},
)
# The regime: the smallest chunks hold fewer training samples than this per input
# feature (the showcase 1.8, latent 2 -> 500 with N = 10000 1.8; the suite's
# latent 2 -> 100 and 4 -> 200 4.5, where the default critic is the better one).
FEW_PER_FEATURE = 3.0
# The evidence of memorising: training-MI intercept above the validation-MI intercept
# by more than this fraction of the corrected MI (showcase, default critic: 21-45 %).
GAP_FRACTION = 0.1

# The settings a search replaces; the analysis keeps any of them the user changed.
_DEFAULT_CAPACITY = {
    "critic": "separable",
    "embedding": "mlp",
    "n_layers": DEFAULT_N_LAYERS,
    "hidden_dim": DEFAULT_HIDDEN_DIM,
    "embedding_dim": DEFAULT_EMBEDDING_DIM,
    "weight_decay": DEFAULT_WEIGHT_DECAY,
    "spectral_norm": False,
}


def searchable(config: EstimateConfig) -> bool:
    """Whether the critic's size is the default one (a critic chosen by hand is kept)."""
    return all(getattr(config, name) == value for name, value in _DEFAULT_CAPACITY.items())


def few_per_feature(n: int, max_gamma: int, features: int, config: EstimateConfig) -> bool:
    """Whether the smallest chunks (N / max_gamma samples) hold fewer than
    :data:`FEW_PER_FEATURE` training samples per input feature (``features``: the wider of
    the two sides)."""
    n_train, _ = chunk_sizes(n // max_gamma, config)
    return n_train < FEW_PER_FEATURE * features


def gap_of(result: RigorousResult) -> float:
    """Training-MI intercept minus validation-MI intercept, in the result's units (NaN
    without a fit or a validation intercept)."""
    fit = result.fit
    if fit is None or not math.isfinite(fit.mi_val):
        return math.nan
    return fit.mi - fit.mi_val


def memorises(result: RigorousResult) -> bool:
    """The default critic's evidence of memorising: a complete analysis whose training
    intercept lies more than :data:`GAP_FRACTION` of its corrected MI above the validation
    intercept.  On independent data (MI near 0) noise alone can pass this; the search
    then chooses among estimates near 0 at little cost (such runs stop early)."""
    gap = gap_of(result)
    return (
        result.stop_reason == "completed"
        and math.isfinite(gap)
        and gap > GAP_FRACTION * abs(result.mi)
    )


def applies(
    result: RigorousResult, config: EstimateConfig, n: int, max_gamma: int, features: int
) -> bool:
    """Whether to search after the default critic's ``result``: a default-size critic
    (:func:`searchable`), few samples per feature (:func:`few_per_feature`) and evidence of
    memorising (:func:`memorises`)."""
    return (
        searchable(config) and few_per_feature(n, max_gamma, features, config) and memorises(result)
    )


def choose(results: Sequence[RigorousResult | None]) -> int:
    """The index of the complete result with the smallest absolute gap (the first, the
    default critic's, on ties and when no other is comparable; None entries are skipped)."""
    best, best_gap = 0, abs(gap_of(results[0])) if results[0] is not None else math.inf
    for k, result in enumerate(results[1:], start=1):
        if result is None:
            continue
        gap = abs(gap_of(result))
        if result.stop_reason == "completed" and math.isfinite(gap) and gap < best_gap:
            best, best_gap = k, gap
    return best


def search_record(
    results: Sequence[RigorousResult | None],
    options: Sequence[dict[str, Any]],
    chosen: int,
    *,
    where: str = "",
    stop_reasons: Sequence[str] | None = None,
) -> dict[str, Any]:
    """What the settings of the kept result say about the search (plain JSON).  For a
    scan (``where``: "at the strongest lag"), ``results`` are each scan's strongest
    point and ``stop_reasons`` the scans' own."""
    stop_reasons = stop_reasons or [r.stop_reason if r else "completed" for r in results]
    at = f" {where}" if where else ""
    return {
        "reason": (
            f"fewer than {FEW_PER_FEATURE:g} training samples per input feature in the "
            f"smallest chunks, and the default critic's training-MI extrapolation{at} lay "
            f"more than {100 * GAP_FRACTION:g} % above its validation-MI one"
        ),
        "chosen": chosen,
        "candidates": [
            {
                "options": dict(opts),
                "mi": _plain(result.mi) if result else None,
                "gap": _plain(gap_of(result)) if result else None,
                "reliable": bool(result.is_reliable) if result else False,
                "stop_reason": stop,
            }
            for opts, result, stop in zip(options, results, stop_reasons, strict=True)
        ],
    }


def candidates(
    analyse: Callable[[EstimateConfig, int], T],
    config: EstimateConfig,
    stopped: Callable[[T], bool],
) -> Iterator[tuple[dict[str, Any], T]]:
    """Each of :data:`CANDIDATES` (its options and ``analyse(config with them, k)``, k = 1,
    2, ...), until one is ``stopped`` (a cancel or an interrupt ends the search)."""
    for k, candidate in enumerate(CANDIDATES, start=1):
        result = analyse(replace(config, **candidate), k)
        yield candidate, result
        if stopped(result):
            return


def strongest(points: Sequence[SweepPoint]) -> RigorousResult | None:
    """The rigorous result of the scan point with the largest finite MI (None: none)."""
    results = [
        p.rigorous for p in points if p.rigorous is not None and math.isfinite(p.rigorous.mi)
    ]
    return max(results, key=lambda r: r.mi) if results else None


def search(
    first: RigorousResult,
    config: EstimateConfig,
    analyse: Callable[[EstimateConfig, int], RigorousResult],
) -> RigorousResult:
    """``first`` (the default critic's result) or the candidate whose extrapolations agree
    best.  ``analyse(config, k)`` runs the k-th candidate's analysis (k = 1, 2, ...); a
    candidate stopped by a cancel or an interrupt ends the search with what is done."""
    results, options = [first], [{}]
    for candidate, result in candidates(analyse, config, lambda r: r.stop_reason != "completed"):
        results.append(result)
        options.append(candidate)
    chosen = choose(results)
    kept = results[chosen]
    settings = {**kept.settings, "critic_choice": search_record(results, options, chosen)}
    elapsed = sum(result.elapsed for result in results)
    return replace(kept, settings=settings, elapsed=elapsed)


@dataclass(frozen=True)
class Scan:
    """One critic's training of an analysis of several rigorous points (the lags of a
    lag scan, the terms of a conditional MI or a transfer entropy): its settings, the
    points, the training (``stop_reason``) and where it trained."""

    config: EstimateConfig
    points: list[SweepPoint]
    trained: Any
    where: dict[str, Any]

    @property
    def stop_reason(self) -> str:
        return self.trained.stop_reason


def search_scan(
    first: Scan,
    analyse: Callable[[EstimateConfig, int], Scan],
    *,
    enabled: bool,
    n: int,
    max_gamma: int,
    features: int,
    where: str,
) -> tuple[Scan, dict[str, Any] | None]:
    """The critic search of an analysis of several points: where :func:`applies` to the
    default critic's strongest point (``n`` samples, ``features`` on the wider side), the
    whole analysis is trained again with each candidate (``analyse(config, k)``) and the
    one whose strongest point's extrapolations agree best is kept, for every point alike
    (its points compare, one critic made them).  Returns the kept training and the
    search record (None: no search; ``where`` names the point, "at the strongest lag")."""
    peak = strongest(first.points)
    if (
        not enabled
        or first.stop_reason != "completed"
        or peak is None
        or not applies(peak, first.config, n, max_gamma, features)
    ):
        return first, None
    scans, options = [first], [{}]
    for candidate, scan in candidates(
        analyse, first.config, lambda s: s.stop_reason != "completed"
    ):
        scans.append(scan)
        options.append(candidate)
    peaks = [strongest(s.points) if s.stop_reason == "completed" else None for s in scans]
    chosen = choose(peaks)
    record = search_record(
        peaks, options, chosen, where=where, stop_reasons=[s.stop_reason for s in scans]
    )
    return scans[chosen], record


def _plain(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None
