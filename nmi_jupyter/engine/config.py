"""Frozen, validated settings of one training run.

The option names here are the public contract: the Python API, the
``%%neuralmi`` magic (``--batch-size`` style) and ``%config`` all use them.
Each option is one row of the option table (:mod:`~nmi_jupyter.engine.options`);
validation is generated from it: :meth:`EstimateConfig.__post_init__` for the options
of one run, :func:`check_rigorous_options` for those of a rigorous analysis, and
:func:`check_call` checks the arguments of every public call, all before any training.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from nmi_jupyter.engine.errors import OptionError, closest_option_hint
from nmi_jupyter.engine.options import (
    ACTIVATIONS,
    CRITICS,
    DEFAULT_BATCH_SIZE,
    DEFAULT_EMBEDDING_DIM,
    DEFAULT_EPOCHS,
    DEFAULT_EVAL_BATCH_SIZE,
    DEFAULT_GAMMAS,
    DEFAULT_GAUSSIAN_SIGMA,
    DEFAULT_HIDDEN_DIM,
    DEFAULT_LR,
    DEFAULT_LR_DROP,
    DEFAULT_MEDIAN_WINDOW,
    DEFAULT_MIN_IMPROVEMENT,
    DEFAULT_N_LAYERS,
    DEFAULT_PATIENCE,
    DEFAULT_SMILE_CLIP,
    DEFAULT_SPECTRAL_NORM,
    DEFAULT_VAL_FRACTION,
    DEFAULT_WEIGHT_DECAY,
    DEVICES,
    ESTIMATORS,
    OPTIONS,
    SPLITS,
    UNITS,
    analysis_options,
    run_options,
)
from nmi_jupyter.engine.options_check import (
    as_gamma_subset,
    check_cancel,
    check_observer,
    describe_value,
)

__all__ = [
    "EstimateConfig",
    "warn_random_split",
    "ESTIMATORS",
    "CRITICS",
    "ACTIVATIONS",
    "SPLITS",
    "UNITS",
    "DEVICES",
    "make_config",
    "check_option",
    "check_rigorous_options",
    "split_options",
    "check_call",
    "DEFAULT_GAMMAS",
    "FIT_OPTIONS",
    "fit_request_of",
]

FIT_OPTIONS = ("delta_threshold", "min_gamma_points", "confidence_level")


@dataclass(frozen=True)
class EstimateConfig:
    """Everything that defines one training run.  Unknown or invalid values raise
    :class:`~nmi_jupyter.OptionError` with a sentence naming the problem.

    Attributes:
        estimator: the MI lower bound trained and reported (``infonce``, ``nwj``,
            ``tuba``, ``js``, ``smile``).
        critic: ``separable`` (dot product of embeddings g(x)·h(y)), ``bilinear``
            (g(x)ᵀ W h(y)), ``concat`` (a joint MLP on (x_i, y_j)) or ``hybrid``
            (g(x)·h(y) plus an MLP on the pair of embeddings (g(x_i), h(y_j))).
        epochs: the most epochs to train; early stopping usually ends sooner.
        batch_size: training minibatch size (also the InfoNCE ceiling log(batch_size)).
            Each step scores batch_size² pairs; a batch_size whose score matrix would
            need more than ``memory.SCORE_MEMORY_BUDGET`` (1 GiB: up to 6688, or 829
            with the default concat critic) is refused before training.
        lr: Adam learning rate.
        patience: epochs without relative improvement of the smoothed validation
            curve before the learning rate drops (``lr_drop``) or, after the drop or
            without one, before stopping.
        lr_drop: at the first stall (``patience`` epochs without improvement) the
            learning rate is multiplied by this, once, and training goes on until the
            smoothed validation curve stalls for ``max(patience // 2, 1)`` epochs more
            (counted from the drop or the best epoch after it); 1 stops at the first
            stall.  The last steps at a smaller rate settle the critic that a larger one
            leaves jittering about its optimum.
        min_improvement: relative improvement that counts (1e-3 = 0.1 %).
        hidden_dim, n_layers, embedding_dim, activation: the MLPs.
        embedding: how windows (N, window, channels) become embeddings: ``mlp``
            (flattened to window * channels features), ``cnn``, ``gru`` or ``tcn``
            (sequence encoders keeping the time axis, :mod:`~nmi_jupyter.engine.encoders`;
            ``hidden_dim`` channels or units, ``n_layers`` layers); a 2-D side keeps its MLP.
        spectral_norm: divide each hidden layer's weight by its largest singular value
            (torch's ``parametrizations.spectral_norm``: one power iteration per
            training step); the embedding MLPs of the separable, bilinear and hybrid
            critics.
        weight_decay: decoupled weight decay (AdamW) of every critic parameter.
        split: ``random`` for i.i.d. samples, ``blocked`` (last block is the
            validation set) for time series.
        val_fraction: fraction of samples held out for validation.
        gap: samples dropped between the training and validation blocks
            (``blocked`` split only) so autocorrelation does not leak.
        standardize: z-score each feature with statistics of the training part.
        copula: first map each feature to a standard normal through its ranks (a
            Gaussian-copula transform; on by default).  MI is unchanged by invertible
            per-feature maps, and skewed or heavy-tailed features (spike counts,
            Student-t) stop misleading the critic; on the accuracy suite it cut the
            mean error from 14 % to 11 % and turned the misses no flag caught into
            good estimates.  Ties share a rank.  ``False`` gives the critic the raw
            (standardised) values.
        units: ``bits`` or ``nats`` for every number reported.
        seed: makes the run reproducible; ``None`` draws one and records it.
        device: ``auto`` (CUDA when present), ``cpu`` or ``cuda`` (``cuda:1`` too).
        threads: torch CPU threads during training; ``None`` picks 1, measured
            fastest for these small models on few cores.
        precision: the matmuls of the batched trainer's steps: ``float32``, ``bfloat16``
            (autocast, every step), or ``auto`` (bfloat16 on a CPU with AMX or AVX-512 BF16
            and on CUDA devices with bfloat16, while at least
            ``batched.AUTO_BFLOAT16_STACK`` runs train in the stack; float32 otherwise).
            The bound, the optimiser, the per-epoch curves and the reported values are
            float32 always.  float32 by default (benchmarks/speed.py --compare
            float32,auto: auto 9-15 % fewer CPU seconds on one thread).
        eval_batch_size: block size for the reported values, the bound on the whole
            training and validation sets at the best checkpoint (a partition smaller
            than this is one block).  Larger blocks loosen InfoNCE's log(n) cap; a
            block whose score matrix would exceed ``memory.SCORE_MEMORY_BUDGET`` is
            scored a few rows at a time (same value, bounded memory, more time).
        smile_clip: the SMILE clip tau.
        median_window, gaussian_sigma: smoothing of the validation history.
    """

    estimator: str = "infonce"
    critic: str = "separable"
    epochs: int = DEFAULT_EPOCHS
    batch_size: int = DEFAULT_BATCH_SIZE
    lr: float = DEFAULT_LR
    patience: int = DEFAULT_PATIENCE
    lr_drop: float = DEFAULT_LR_DROP
    min_improvement: float = DEFAULT_MIN_IMPROVEMENT
    hidden_dim: int = DEFAULT_HIDDEN_DIM
    n_layers: int = DEFAULT_N_LAYERS
    embedding_dim: int = DEFAULT_EMBEDDING_DIM
    embedding: str = "mlp"
    activation: str = "relu"
    spectral_norm: bool = DEFAULT_SPECTRAL_NORM
    weight_decay: float = DEFAULT_WEIGHT_DECAY
    split: str = "random"
    val_fraction: float = DEFAULT_VAL_FRACTION
    gap: int = 0
    standardize: bool = True
    copula: bool = True
    units: str = "bits"
    seed: int | None = None
    device: str = "auto"
    threads: int | None = None
    precision: str = "float32"
    eval_batch_size: int = DEFAULT_EVAL_BATCH_SIZE
    smile_clip: float = DEFAULT_SMILE_CLIP
    median_window: int = DEFAULT_MEDIAN_WINDOW
    gaussian_sigma: float = DEFAULT_GAUSSIAN_SIGMA

    def __post_init__(self) -> None:
        # Every field through its check in the option table (engine/options.py).
        for spec in run_options():
            self._set(spec.name, spec.check(getattr(self, spec.name)))
        if self.spectral_norm and self.critic == "concat":
            raise OptionError(
                "spectral_norm applies to the embedding MLPs of the separable, bilinear and "
                "hybrid critics, not to the concat critic."
            )
        if self.spectral_norm and self.embedding != "mlp":
            raise OptionError(
                f"spectral_norm applies to MLP embeddings, not to the {self.embedding} "
                "encoder; use embedding='mlp' or spectral_norm=False."
            )
        # Last, once every field is valid: a training step must fit the memory budget.
        from nmi_jupyter.engine.memory import check_score_memory

        check_score_memory(self)

    def _set(self, name: str, value: Any) -> None:
        # Normalise numpy scalars to plain Python values so settings stay JSON data.
        object.__setattr__(self, name, value)

    def to_dict(self) -> dict[str, Any]:
        """Plain-data view (JSON-serialisable) of every setting."""
        return dataclasses.asdict(self)

    def replace(self, **changes: Any) -> EstimateConfig:
        """A copy with ``changes`` applied (validated, unknown names rejected)."""
        return make_config(self, **changes)


def option_names() -> tuple[str, ...]:
    """All option names :class:`EstimateConfig` accepts (the run options of the table)."""
    return tuple(spec.name for spec in run_options())


def check_option_names(options: Mapping[str, Any], also_valid: tuple[str, ...] = ()) -> None:
    """Raise :class:`OptionError` naming the closest valid option for an unknown name."""
    valid = option_names() + also_valid
    for name in options:
        if name not in valid:
            raise OptionError(f"Unknown option '{name}'{closest_option_hint(name, valid)}.")


def make_config(base: EstimateConfig | None = None, /, **options: Any) -> EstimateConfig:
    """Build a validated config from keyword options, on top of ``base`` (defaults if None).

    Raises :class:`OptionError` naming the closest valid option for an unknown name.
    """
    check_option_names(options)
    merged: Mapping[str, Any] = {**(base.to_dict() if base else {}), **options}
    return EstimateConfig(**merged)


def check_rigorous_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with every rigorous-analysis option it holds checked by its row of
    the option table and converted to plain Python values (other keys, and
    ``executor``, which :func:`~nmi_jupyter.engine.distribute.check_executor` judges,
    pass through unchanged).

    ``gammas`` -> sorted list of distinct ints; ``repeats``, ``retries``,
    ``min_gamma_points`` -> int; ``batched``, ``control`` -> bool; ``delta_threshold``,
    ``confidence_level`` -> float; ``exclude`` -> a sorted list of gammas the analysis
    has (``gammas`` if given, else :data:`DEFAULT_GAMMAS`) that leaves at least two for
    the fit, or None.  Raises :class:`OptionError`.
    """
    out = dict(options)
    for name in analysis_options("rigorous"):
        if name in out and name not in ("exclude", "executor"):
            out[name] = OPTIONS[name].check(out[name])
    if out.get("exclude") is not None:
        gammas = out.get("gammas", DEFAULT_GAMMAS)
        out["exclude"] = as_gamma_subset("exclude", out["exclude"], gammas)
    return out


# Analysis options that every analysis reads, rigorous or not (where the runs train).
WHERE_OPTIONS = ("batched", "executor", "retries")


def split_options(
    options: Mapping[str, Any],
    *,
    rigorous: bool = True,
    where: str = "",
    plain: tuple[str, ...] = WHERE_OPTIONS,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(run options, analysis options) of an analysis' ``**options`` (names already
    checked): the run options are the option table's ``run`` rows, passed on to
    ``make_config``; the rest are checked by :func:`check_rigorous_options`.  With
    ``rigorous`` False, an analysis option other than ``plain`` (one only a rigorous
    analysis reads: ``gammas``, ``confidence_level`` ...) is one sentence, ``where``
    naming the analysis (" to nmi.lag")."""
    run_names = option_names()
    run = {k: v for k, v in options.items() if k in run_names}
    rest = {k: v for k, v in options.items() if k not in run}
    if not rigorous:
        extra = sorted(set(rest) - set(plain))
        if extra:
            raise OptionError(f"{', '.join(extra)} only apply{where} with rigorous=True.")
    return run, check_rigorous_options(rest)


def fit_request_of(checked: Mapping[str, Any]) -> dict[str, Any]:
    """The gamma fit's request (as saved in ``settings["fit"]``) from options already
    checked by :func:`check_rigorous_options`; fit options not given take their defaults."""
    request: dict[str, Any] = {"exclude": checked.get("exclude"), "use": None}
    request.update({name: checked.get(name, OPTIONS[name].default) for name in FIT_OPTIONS})
    return request


def check_option(name: str, value: Any) -> Any:
    """One option on its own (a ``%config`` default, say), checked as ``estimate()`` or
    ``rigorous()`` would check it, and converted to a plain Python value."""
    if name in option_names():
        return getattr(make_config(**{name: value}), name)
    if name not in OPTIONS:
        raise OptionError(f"Unknown option '{name}'{closest_option_hint(name, OPTIONS)}.")
    return check_rigorous_options({name: value})[name]


def check_call(config: Any = None, observer: Any = None, cancel: Any = None) -> None:
    """The arguments every public call shares: ``config`` an :class:`EstimateConfig` or
    None, ``observer`` a callable or None, ``cancel`` a ``CancelToken`` or None."""
    if config is not None and not isinstance(config, EstimateConfig):
        raise OptionError(
            "config must be an nmi_jupyter.EstimateConfig (e.g. nmi.EstimateConfig(epochs=20)) "
            f"or None, not {describe_value(config)}; pass options as keywords instead."
        )
    check_observer(observer)
    check_cancel(cancel)


def warn_random_split(analysis: str) -> None:
    """A time-series analysis given a ``config`` with a random split: say it leaks."""
    import warnings

    from nmi_jupyter.engine.errors import NeuralMIWarning

    warnings.warn(
        f"{analysis} was given a config with split='random': neighbouring time points then "
        "fall on both sides of the split and validation sees near-copies of the training "
        "samples; pass split='blocked' (the default without a config).",
        NeuralMIWarning,
        stacklevel=3,
    )
