"""Reducers: a plan's trained runs -> a result.  Pure functions of the outcomes.

A reducer reads the plan's labels (gamma, chunk, control, ...), which the
trainer never does, and turns the outcomes (nats) into the result's records and
numbers in the user's units.  A new analysis adds its reducer here.
"""

from __future__ import annotations

from typing import Any

from nmi_jupyter import __version__
from nmi_jupyter.engine.linear_bound import LinearBound
from nmi_jupyter.engine.neighbours import NeighbourEstimate
from nmi_jupyter.engine.plan import Plan, RunSpec
from nmi_jupyter.engine.results import STOPPED_REASONS, EstimateResult
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord, fit_runs
from nmi_jupyter.engine.run_state import TrainOutcome, enters_result, failed_outcome
from nmi_jupyter.engine.runs import reported_history, reported_mi
from nmi_jupyter.engine.sweep_result import SweepPoint
from nmi_jupyter.engine.trainer import Trained

__all__ = ["reduce_estimate", "reduce_rigorous", "reduce_sweep_point", "run_record"]


def reduce_estimate(
    plan: Plan,
    trained: Trained,
    *,
    x_dim: int,
    y_dim: int,
    linear: LinearBound | None,
    neighbours: NeighbourEstimate | None = None,
) -> EstimateResult:
    """The :class:`EstimateResult` of an :func:`~nmi_jupyter.engine.plan.estimate_plan`."""
    config = plan.config
    outcome = trained.outcomes[0] if trained.outcomes else None
    outcome = outcome if outcome is not None else failed_outcome(trained.stop_reason)
    mi, mi_val = reported_mi(outcome, config.units)
    return EstimateResult(
        mi=mi,
        mi_val=mi_val,
        units=config.units,
        best_epoch=outcome.best_epoch,
        stop_reason=outcome.stop_reason,
        history=reported_history(outcome, config.units),
        settings=config.to_dict(),
        n_train=outcome.n_train,
        n_val=outcome.n_val,
        x_dim=x_dim,
        y_dim=y_dim,
        elapsed=outcome.elapsed,
        device=trained.device,
        threads=trained.threads,
        version=__version__,
        linear=linear,
        neighbours=neighbours,
        varying_samples=outcome.varying,
        critic=outcome.critic,
    )


def reduce_rigorous(
    plan: Plan,
    trained: Trained,
    *,
    n_samples: int,
    gammas: tuple[int, ...],
    repeats: int,
    fit_request: dict[str, Any],
    settings: dict[str, Any],
    linear: LinearBound | None,
    elapsed: float,
    neighbours: NeighbourEstimate | None = None,
) -> RigorousResult:
    """The :class:`RigorousResult` of a :func:`~nmi_jupyter.engine.plan.rigorous_plan`:
    a record per run that enters the result (finished, diverged, failed, or partial
    with a finished epoch), controls apart, and the gamma fit of the analysis runs."""
    units = plan.config.units
    finished = [
        (spec, run_record(spec, outcome, units))
        for spec, outcome in zip(plan.runs, trained.outcomes, strict=False)
        if enters_result(outcome)
    ]
    runs = tuple(record for spec, record in finished if not spec.control)
    controls = tuple(record for spec, record in finished if spec.control)
    return RigorousResult(
        runs=runs,
        fit=fit_runs(runs, n_samples, fit_request),
        units=units,
        n_samples=n_samples,
        gammas=gammas,
        repeats=repeats,
        settings=settings,
        threads=trained.threads,
        controls=controls,
        linear=linear,
        neighbours=neighbours,
        stop_reason=trained.stop_reason,
        elapsed=elapsed,
        device=trained.device,
        version=__version__,
    )


def reduce_sweep_point(plan: Plan, trained: Trained, values: dict[str, Any]) -> SweepPoint:
    """One grid point of a sweep (or one embedding dimension of a dimensionality
    analysis) from a :func:`~nmi_jupyter.engine.plan.repeats_plan`: a record per run
    that enters the result; their mean, error and flags are the point's properties."""
    units = plan.config.units
    runs = tuple(
        run_record(spec, outcome, units)
        for spec, outcome in zip(plan.runs, trained.outcomes, strict=False)
        if enters_result(outcome)
    )
    return SweepPoint(values=dict(values), units=units, settings=plan.config.to_dict(), runs=runs)


def run_record(spec: RunSpec, outcome: TrainOutcome, units: str) -> RunRecord:
    """One result row: the run's labels and its outcome in ``units``."""
    mi, mi_val = reported_mi(outcome, units)
    return RunRecord(
        gamma=spec.gamma,
        chunk=spec.chunk,
        repeat=spec.repeat,
        seed=spec.seed,
        n_samples=spec.view.n_samples(outcome.n_train + outcome.n_val),
        mi=mi,
        mi_val=mi_val,
        best_epoch=outcome.best_epoch,
        epochs_run=len(outcome.val),
        stop_reason=outcome.stop_reason,
        elapsed=outcome.elapsed,
        history=reported_history(outcome, units),
        partial=outcome.stop_reason in STOPPED_REASONS,
    )
