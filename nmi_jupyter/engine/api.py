"""The public calls.  The only module that wires data, models, training and results."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterable
from typing import Any

import numpy as np

from nmi_jupyter.engine import critic_search as critic_search_module
from nmi_jupyter.engine.config import (
    DEFAULT_GAMMAS,
    EstimateConfig,
    check_call,
    check_option_names,
    check_rigorous_options,
    fit_request_of,
    make_config,
)
from nmi_jupyter.engine.data import check_pair
from nmi_jupyter.engine.distribute import DEFAULT_RETRIES, check_executor, describe, train
from nmi_jupyter.engine.errors import NeuralMIWarning, OptionError
from nmi_jupyter.engine.events import CancelToken, Observer, tagged
from nmi_jupyter.engine.extrapolate import (
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_DELTA_THRESHOLD,
    DEFAULT_MIN_GAMMA_POINTS,
)
from nmi_jupyter.engine.interrupts import deferred_interrupts
from nmi_jupyter.engine.linear_bound import LinearBound, linear_bound
from nmi_jupyter.engine.neighbours import NeighbourEstimate, neighbour_estimate
from nmi_jupyter.engine.options import OPTIONS, analysis_options, options_of
from nmi_jupyter.engine.plan import check_chunk_size, estimate_plan, renumbered, rigorous_plan
from nmi_jupyter.engine.reduce import reduce_estimate, reduce_rigorous
from nmi_jupyter.engine.results import EstimateResult
from nmi_jupyter.engine.rigorous_result import RigorousResult
from nmi_jupyter.engine.sweep import copula_marginals, seeded

__all__ = ["estimate", "rigorous", "RIGOROUS_OPTIONS"]

# Keyword options of rigorous() beyond the EstimateConfig ones, from the option table
# (engine/options.py); a test holds rigorous()'s signature to it.
RIGOROUS_OPTIONS = analysis_options("rigorous")


def estimate(
    x: Any,
    y: Any,
    *,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> EstimateResult:
    """Estimate I(X;Y) with one neural critic training run.

    Args:
        x, y: paired samples, one row per sample: numpy arrays, torch tensors,
            pandas objects or lists.  1-D means one feature; (N, a, b, ...) is
            flattened to (N, a*b*...), except windows (N, window, channels) with a
            sequence ``embedding`` (cnn, gru, tcn), which keep their time axis.
        observer: called with each :mod:`~nmi_jupyter.engine.events` event.
        cancel: a :class:`CancelToken`; setting it stops training between epochs.
        config: a prepared :class:`EstimateConfig`; ``options`` override it.
        **options: any :class:`EstimateConfig` field (estimator, critic, epochs,
            batch_size, lr, patience, hidden_dim, n_layers, embedding_dim, split,
            units, seed, device, threads, ...).

    Returns:
        An :class:`EstimateResult`; ``result.mi`` is in ``units`` (bits by default).
        A cancelled or interrupted run returns what it had, ``result.stopped`` True.

    Raises:
        NeuralMIError: a sentence naming what is wrong with the data or options.
    """
    misplaced = sorted((set(options) & set(OPTIONS)) - set(options_of("estimate")))
    if misplaced:
        raise OptionError(
            f"{', '.join(misplaced)} only apply to nmi.rigorous(...); nmi.estimate trains "
            "one run in this process."
        )
    check_call(config, observer, cancel)
    config = seeded(make_config(config, **options))
    xs, ys = copula_marginals(*check_pair(x, y, config.embedding), config)
    # The closed-form bound is computed before training, so that nothing but plain
    # record-keeping (with Ctrl-C held back) follows a run that was interrupted.
    linear, neighbours = _linear(xs, ys, config), _neighbours(xs, ys, config)
    plan = estimate_plan(config)
    # One run, one after another: the result keeps the restored critic module.
    trained = train(plan, xs, ys, batched=False, observer=observer, cancel=cancel)
    with deferred_interrupts():
        x_dim, y_dim = _features(xs), _features(ys)
        return reduce_estimate(
            plan, trained, x_dim=x_dim, y_dim=y_dim, linear=linear, neighbours=neighbours
        )


def rigorous(
    x: Any,
    y: Any,
    *,
    gammas: Iterable[int] = DEFAULT_GAMMAS,
    repeats: int = 1,
    delta_threshold: float = DEFAULT_DELTA_THRESHOLD,
    min_gamma_points: int = DEFAULT_MIN_GAMMA_POINTS,
    confidence_level: float = DEFAULT_CONFIDENCE_LEVEL,
    exclude: Iterable[int] | None = None,
    batched: bool = True,
    control: bool = True,
    critic_search: bool = False,
    executor: Any = None,
    retries: int = DEFAULT_RETRIES,
    observer: Observer | None = None,
    cancel: CancelToken | None = None,
    config: EstimateConfig | None = None,
    **options: Any,
) -> RigorousResult:
    """Bias-corrected MI: train on gamma equal chunks for each gamma, extrapolate to gamma = 0.

    One master order of the samples (a seeded permutation; the time order when
    ``split="blocked"``) is cut into ``gamma`` equal chunks for each gamma, and one
    ordinary estimate run (``repeats`` runs) is trained on each chunk: 55 runs for
    gamma = 1..10.  The per-run MI is fitted by weighted least squares against
    gamma and extrapolated to infinite data (see :func:`fit_gamma_line`).

    Args:
        x, y: paired samples, as for :func:`estimate`.
        gammas: the subsampling factors (distinct integers >= 1).
        repeats: runs per chunk, each with its own seed.
        delta_threshold, min_gamma_points, confidence_level: the fit (see
            ``RigorousResult``); ``exclude`` drops gammas by hand.
        batched: train all runs at once as one vectorised model (default, much
            faster); False trains them one after another (same seeds, same meaning).
        control: also train a shuffled-pairs control (y permuted, true MI 0): one
            run on N/2 and two on N/4 samples, about 10 % extra training; if the
            control, extrapolated like the analysis, shows MI, the result is flagged.
        critic_search: opt in (default False; measured, it helps one family of data and
            hurts others, README "Few samples per feature"): where the smallest chunks
            hold fewer than 3 training samples per
            input feature and the default critic memorises (its training-MI
            extrapolation lies more than 10 % above its validation-MI one), train the
            analysis again with two smaller critics (one hidden layer; one hidden layer,
            embedding 32, weight decay 0.01) and keep the result whose two
            extrapolations agree best; ``settings["critic_choice"]`` lists what was
            tried.  Only with the default critic size (set ``n_layers``, ``hidden_dim``,
            ``embedding_dim`` ... yourself, or False, to keep yours).  See
            :mod:`nmi_jupyter.engine.critic_search`.
        executor: None trains in this process.  Any ``concurrent.futures.Executor``
            (a ``ProcessPoolExecutor``, a Dask ``Client`` or ``client.get_executor()``)
            trains the runs as work units, one per gamma plus one for the controls,
            each batched on its worker (``device`` is resolved there, so a worker with
            a GPU uses it).  Same seeds, same numbers as in-process.  Events arrive as
            units come back.
        retries: resubmissions of a failing unit (a lost worker, an error) before its
            runs are reported as failed (excluded from the fit and flagged).
        observer, cancel: as for :func:`estimate`; events carry ``gamma`` and ``chunk``.
        **options: estimate options, the same for every run.

    Returns:
        A :class:`RigorousResult`.  Its interval at ``confidence_level`` combines three
        standard errors: the weighted fit's own, the dataset's fluctuation (shared by
        every gamma, so extrapolation cannot average it away) and the gap between the
        extrapolations of the training and the validation MI (bias that every chunk
        shares); ``summary()`` lists them.  A cancelled or interrupted analysis
        (``stopped``) keeps the finished runs and, as partial runs, the best checkpoint so
        far of each run still training; it fits what it has and is flagged ``partial``.
        A second Ctrl-C while that is done changes nothing.
    """
    # Every option is checked here, before the data are read and before any training.
    check_call(config, observer, cancel)
    check_option_names(options, RIGOROUS_OPTIONS)
    config = seeded(make_config(config, **options))
    checked = check_rigorous_options(
        {
            "gammas": gammas,
            "repeats": repeats,
            "exclude": exclude,
            "batched": batched,
            "control": control,
            "critic_search": critic_search,
            "retries": retries,
            "delta_threshold": delta_threshold,
            "min_gamma_points": min_gamma_points,
            "confidence_level": confidence_level,
        }
    )
    gamma_list, repeats, batched = checked["gammas"], checked["repeats"], checked["batched"]
    control, retries = checked["control"], checked["retries"]
    check_executor(executor)
    fit_request = fit_request_of(checked)
    xs, ys = copula_marginals(*check_pair(x, y, config.embedding), config)
    n = len(xs)
    check_chunk_size(n, max(gamma_list), config)
    linear, neighbours = _linear(xs, ys, config), _neighbours(xs, ys, config)
    failures: dict[int, str] = {}
    n_runs = 0

    def analyse(config: EstimateConfig, k: int = 0) -> RigorousResult:
        """The analysis with the critic of ``config``; candidate k of a critic search
        numbers its runs after the analyses before it (distinct run ids in the events)."""
        nonlocal n_runs
        plan = rigorous_plan(n, gamma_list, repeats, control, config)
        plan = renumbered(plan, k * len(plan.runs))
        start = time.perf_counter()
        trained = train(
            plan,
            xs,
            ys,
            executor=executor,
            batched=batched,
            retries=retries,
            observer=tagged(observer, k),
            cancel=cancel,
        )
        settings = {
            **config.to_dict(),
            "fit": fit_request,
            "batched": batched,
            "control": control,
            "critic_search": checked["critic_search"],
            "executor": describe(executor),
        }
        failures.update(trained.failures)
        n_runs += len(plan.runs)
        # Runs stopped by a cancel or an interrupt enter with their best checkpoint so
        # far (partial runs); Ctrl-C is held back while they are recorded and fitted,
        # so a second one cannot lose them.
        with deferred_interrupts():
            return reduce_rigorous(
                plan,
                trained,
                n_samples=n,
                gammas=tuple(gamma_list),
                repeats=repeats,
                fit_request=fit_request,
                settings=settings,
                linear=linear,
                neighbours=neighbours,
                elapsed=time.perf_counter() - start,
            )

    result = analyse(config)
    features = max(_features(xs), _features(ys))
    if checked["critic_search"] and critic_search_module.applies(
        result, config, n, max(gamma_list), features
    ):
        result = critic_search_module.search(result, config, analyse)
    _warn_failures(failures, n_runs, retries)
    return result


def _warn_failures(failures: dict[int, str], n_runs: int, retries: int) -> None:
    """Say (a NeuralMIWarning to the caller of rigorous) which runs an executor lost."""
    if failures:
        reasons = sorted(set(failures.values()))
        warnings.warn(
            f"{len(failures)} of {n_runs} runs failed on the executor after "
            f"{retries + 1} attempts and were left out: {'; '.join(reasons)[:500]}",
            NeuralMIWarning,
            stacklevel=3,
        )


def _linear(xs: np.ndarray, ys: np.ndarray, config: EstimateConfig) -> LinearBound | None:
    """The closed-form lower bound from the best feature pair, for i.i.d. samples only:
    between two slow time series (``split="blocked"``) chance correlations far beyond
    its i.i.d. standard error are common, and the bound would flag correct estimates."""
    if config.split != "random":
        return None
    # Windows: every (time, channel) a feature, re-ranked as one (they were ranked per
    # channel, so each is only near-normal).
    normal_scores = config.copula and xs.ndim == 2 and ys.ndim == 2
    xs, ys = xs.reshape(len(xs), -1), ys.reshape(len(ys), -1)
    return linear_bound(xs, ys, normal_scores=normal_scores)


def _neighbours(xs: np.ndarray, ys: np.ndarray, config: EstimateConfig) -> NeighbourEstimate | None:
    """The nearest-neighbour (KSG) estimate of few-dimensional i.i.d. samples (None for
    windows, blocked splits and more than ``neighbours.MAX_DIMS`` features): between slow
    time series, neighbours in time are neighbours in value, and the count overshoots."""
    if config.split != "random" or xs.ndim != 2 or ys.ndim != 2:
        return None
    return neighbour_estimate(xs, ys, normal_scores=config.copula, seed=config.seed or 0)


def _features(data: np.ndarray) -> int:
    """Features of one sample: window * channels for windows."""
    return int(np.prod(data.shape[1:]))
