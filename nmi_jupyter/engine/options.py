"""The one option table: every option of every analysis, written once.

Each :class:`OptionSpec` says an option's name, kind, default, check (a function of
:mod:`~nmi_jupyter.engine.options_check` with its bounds), a one-line help, which
analyses take it and whether it belongs to one training run (a field of
:class:`~nmi_jupyter.EstimateConfig`, ``scope="run"``) or to the analysis around the
runs (``scope="analysis"``: the gammas of ``rigorous()``, its fit, its executor).

Everything else is generated from :data:`OPTIONS`: the validation of
``EstimateConfig``, ``RIGOROUS_OPTIONS`` and the checks of ``rigorous()``, the magic's
line options (``--batch-size``), its body keys, the ``%config NeuralMIMagics``
traits, tab completion, the help and the README's option table.  A new option is one
row here (plus, for a run option, its ``EstimateConfig`` field, which a test holds to
this table); a new analysis names itself in the ``analyses`` of the options it takes.

Imports only the checks and the fit's defaults; no IPython, no torch.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from nmi_jupyter.engine.errors import OptionError
from nmi_jupyter.engine.extrapolate import (
    DEFAULT_CONFIDENCE_LEVEL,
    DEFAULT_DELTA_THRESHOLD,
    DEFAULT_MIN_GAMMA_POINTS,
)
from nmi_jupyter.engine.options_check import (
    as_bool,
    as_choice,
    as_device,
    as_float,
    as_gamma_subset,
    as_gammas,
    as_int,
)

__all__ = [
    "OptionSpec",
    "OPTIONS",
    "ANALYSES",
    "RUN",
    "ANALYSIS",
    "run_options",
    "analysis_options",
    "options_of",
    "ESTIMATORS",
    "CRITICS",
    "ACTIVATIONS",
    "EMBEDDINGS",
    "SEQUENCE_EMBEDDINGS",
    "SPLITS",
    "UNITS",
    "DEVICES",
    "PRECISIONS",
    "DEFAULT_GAMMAS",
    "DEFAULT_RETRIES",
]

ANALYSES = (
    "estimate",
    "rigorous",
    "sweep",
    "dimensionality",
    "lag",
    "pairwise",
    "permutation_test",
    "conditional",
    "transfer",
)
RUN, ANALYSIS = "run", "analysis"

ESTIMATORS = ("infonce", "nwj", "tuba", "js", "smile")
CRITICS = ("separable", "bilinear", "concat", "hybrid")
ACTIVATIONS = ("relu", "leaky_relu", "elu", "gelu", "silu", "tanh")
# How each side becomes an embedding: an MLP (windows flattened) or a sequence encoder
# of (N, window, channels) windows (engine/encoders.py).
EMBEDDINGS = ("mlp", "cnn", "gru", "tcn")
SEQUENCE_EMBEDDINGS = ("cnn", "gru", "tcn")
SPLITS = ("random", "blocked")
UNITS = ("bits", "nats")
DEVICES = ("auto", "cpu", "cuda")
PRECISIONS = ("float32", "bfloat16", "auto")

DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 128
DEFAULT_LR = 5e-4
DEFAULT_PATIENCE = 10
DEFAULT_LR_DROP = 1.0
DEFAULT_MIN_IMPROVEMENT = 1e-3
DEFAULT_HIDDEN_DIM = 64
DEFAULT_N_LAYERS = 2
DEFAULT_EMBEDDING_DIM = 64
DEFAULT_SPECTRAL_NORM = False
DEFAULT_WEIGHT_DECAY = 0.0
DEFAULT_VAL_FRACTION = 0.1
# Evaluation blocks: InfoNCE on n pairs is biased low by roughly (e^I - 1)/n and
# capped at log(n); 512 removed most of the bias at batch 128 (measured +0.035
# bits at 2 bits) at no extra cost, and a fixed size keeps that bias the same for
# every gamma of a rigorous analysis.
DEFAULT_EVAL_BATCH_SIZE = 512
DEFAULT_SMILE_CLIP = 5.0
DEFAULT_MEDIAN_WINDOW = 5
DEFAULT_GAUSSIAN_SIGMA = 1.0
DEFAULT_GAMMAS = tuple(range(1, 11))
DEFAULT_REPEATS = 1
DEFAULT_SWEEP_REPEATS = 3
DEFAULT_EMBEDDING_DIMS = tuple(range(1, 13))
DEFAULT_SPLITS = 5
# nmi.pairwise: one run per pair (a screen; nmi.pairwise explains); nmi.permutation_test.
DEFAULT_PAIRWISE_REPEATS = 1
DEFAULT_PERMUTATIONS = 199
NULLS = ("permute", "circular", "block")
DEFAULT_LAGS = tuple(range(-20, 21))
# Resubmissions of a failing work unit before its runs are reported failed; the same
# number as distribute.DEFAULT_RETRIES (a test holds them together).
DEFAULT_RETRIES = 2

# The kinds of value an option can hold; each has one check (see OptionSpec.check).
KINDS = (
    "int",
    "float",
    "bool",
    "choice",
    "device",
    "gammas",
    "gamma_subset",
    "executor",
    "grid",
    "dims",
    "lags",
    "variable",
)


@dataclass(frozen=True)
class OptionSpec:
    """One option: what it is, its default, how it is checked, who takes it.

    Attributes:
        name: the keyword (``batch_size``); the magic line writes it ``--batch-size``.
        kind: one of :data:`KINDS`.
        default: the value used when the option is not given.
        help: one line for ``--help``, ``%config`` and the README.
        scope: :data:`RUN` (a field of ``EstimateConfig``) or :data:`ANALYSIS`.
        analyses: the analyses that take it (``"estimate"``, ``"rigorous"``, ...).
        low, high, low_open, high_open, finite: bounds of an ``int`` (``low`` only) or
            ``float`` option, as :func:`~nmi_jupyter.engine.options_check.as_float`
            takes them.
        choices: the values of a ``choice`` option (the named ones of ``device``).
        optional: None is a valid value (it means "choose for me").
        odd: an ``int`` option that must be odd (a median filter's window).
    """

    name: str
    kind: str
    default: Any
    help: str
    scope: str = RUN
    analyses: tuple[str, ...] = ANALYSES
    low: float | None = None
    high: float | None = None
    low_open: bool = False
    high_open: bool = False
    finite: bool = True
    choices: tuple[str, ...] = ()
    optional: bool = False
    odd: bool = False

    def check(self, value: Any) -> Any:
        """``value`` checked and converted to a plain Python value (numpy scalars and
        ranges welcome); raises :class:`OptionError` with one sentence.

        ``gamma_subset`` is judged against the default gammas here; ``rigorous()``
        judges it against the gammas of the analysis.  ``executor`` is checked by
        :func:`nmi_jupyter.engine.distribute.check_executor`.
        """
        if value is None and self.optional:
            return None
        name, kind = self.name, self.kind
        if kind == "int":
            number = as_int(name, value, None if self.low is None else int(self.low))
            if self.odd and number % 2 == 0:
                raise OptionError(f"{name} must be odd, not {number}.")
            return number
        if kind == "float":
            return as_float(
                name,
                value,
                self.low,
                self.high,
                low_open=self.low_open,
                high_open=self.high_open,
                finite=self.finite,
            )
        if kind == "bool":
            return as_bool(name, value)
        if kind == "choice":
            return as_choice(name, value, self.choices)
        if kind == "device":
            return as_device(name, value, self.choices)
        if kind == "gammas":
            return as_gammas(value)
        if kind == "gamma_subset":
            return as_gamma_subset(name, value, DEFAULT_GAMMAS)
        if kind == "grid":
            from nmi_jupyter.engine.sweep import check_grid

            return check_grid(value)
        if kind == "dims":
            from nmi_jupyter.engine.sweep import check_dims

            return check_dims(value)
        if kind == "lags":
            from nmi_jupyter.engine.lag import check_lags

            return check_lags(value)
        if kind == "executor":
            from nmi_jupyter.engine.distribute import check_executor

            check_executor(value)
            return value
        if kind == "variable":  # data: the analysis checks it with the other arrays
            return value
        raise AssertionError(f"unknown option kind {kind!r}")  # a table error, not a user's

    @property
    def flag(self) -> str:
        """The magic line's spelling: ``--batch-size``."""
        return "--" + self.name.replace("_", "-")

    @property
    def values(self) -> tuple[str, ...]:
        """The values tab completion offers (choices, ``True``/``False``), else ()."""
        if self.kind in ("choice", "device"):
            return self.choices
        return ("True", "False") if self.kind == "bool" else ()

    @property
    def default_text(self) -> str:
        """The default as a user would write it (``range(1, 11)``, ``5e-4``, ``None``)."""
        if self.default == DEFAULT_GAMMAS and self.kind == "gammas":
            return "range(1, 11)"
        if self.default == DEFAULT_LAGS and self.kind == "lags":
            return "range(-20, 21)"
        return repr(self.default) if isinstance(self.default, float) else str(self.default)


def _int(name: str, default: Any, low: int, help: str, **more: Any) -> OptionSpec:
    return OptionSpec(name, "int", default, help, low=low, **more)


def _choice(name: str, choices: tuple[str, ...], help: str) -> OptionSpec:
    return OptionSpec(name, "choice", choices[0], help, choices=choices)


_RIGOROUS = {
    "scope": ANALYSIS,
    "analyses": ("rigorous", "sweep", "lag", "pairwise", "conditional", "transfer"),
}
# Where the runs train: every analysis of many runs.
_MANY_RUNS = {
    "scope": ANALYSIS,
    "analyses": (
        "rigorous",
        "sweep",
        "dimensionality",
        "lag",
        "pairwise",
        "permutation_test",
        "conditional",
        "transfer",
    ),
}

_TABLE = (
    # ----- one training run (EstimateConfig) -----
    _choice("estimator", ESTIMATORS, "the MI lower bound trained and reported"),
    _choice(
        "critic",
        CRITICS,
        "separable g(x)·h(y), bilinear g(x)ᵀWh(y), concat (an MLP on (x, y) pairs), or "
        "hybrid (g(x)·h(y) plus an MLP on the pair of embeddings: nonlinear, bottleneck explicit)",
    ),
    _int("epochs", DEFAULT_EPOCHS, 1, "most epochs; early stopping usually ends sooner"),
    _int(
        "batch_size",
        DEFAULT_BATCH_SIZE,
        2,
        "training minibatch; InfoNCE can never exceed log(batch_size); a size whose "
        "score matrix would need more than 1 GiB is refused before training",
    ),
    OptionSpec("lr", "float", DEFAULT_LR, "Adam learning rate", low=0.0, low_open=True),
    _int(
        "patience",
        DEFAULT_PATIENCE,
        1,
        "epochs without improvement of the smoothed validation MI before the learning "
        "rate drops (lr_drop), or before stopping",
    ),
    OptionSpec(
        "lr_drop",
        "float",
        DEFAULT_LR_DROP,
        "when the smoothed validation MI first stalls for patience epochs, the learning "
        "rate is multiplied by this and training goes on until it stalls for patience // 2 "
        "more; 1: stop at the first stall",
        low=0.0,
        high=1.0,
        low_open=True,
    ),
    OptionSpec(
        "min_improvement",
        "float",
        DEFAULT_MIN_IMPROVEMENT,
        "relative improvement that counts (1e-3 = 0.1 %)",
        low=0.0,
    ),
    _int("hidden_dim", DEFAULT_HIDDEN_DIM, 1, "width of the MLPs"),
    _int("n_layers", DEFAULT_N_LAYERS, 1, "hidden layers of the MLPs"),
    _int("embedding_dim", DEFAULT_EMBEDDING_DIM, 1, "size of the embeddings g(x), h(y)"),
    _choice(
        "embedding",
        EMBEDDINGS,
        "how windows (N, window, channels) are encoded: mlp (flattened to window*channels "
        "features), cnn (temporal convolutions, pooled), gru (its last state) or tcn "
        "(dilated causal convolutions); a 2-D side keeps its MLP",
    ),
    _choice("activation", ACTIVATIONS, "activation of the MLPs"),
    OptionSpec(
        "spectral_norm",
        "bool",
        DEFAULT_SPECTRAL_NORM,
        "divide each hidden layer's weight by its largest singular value (one power "
        "iteration per training step), as the reference library does by default; "
        "the embeddings of the separable, bilinear and hybrid critics",
    ),
    OptionSpec(
        "weight_decay",
        "float",
        DEFAULT_WEIGHT_DECAY,
        "decoupled weight decay (AdamW) of every critic parameter; 0: plain Adam",
        low=0.0,
    ),
    _choice(
        "split",
        SPLITS,
        "random for i.i.d. samples; blocked (the last block validates) for time series",
    ),
    OptionSpec(
        "val_fraction",
        "float",
        DEFAULT_VAL_FRACTION,
        "fraction of samples held out for validation",
        low=0.0,
        high=0.5,
        low_open=True,
        high_open=True,
    ),
    _int("gap", 0, 0, "samples dropped between the training and validation blocks (blocked)"),
    OptionSpec("standardize", "bool", True, "z-score features with training statistics"),
    OptionSpec(
        "copula",
        "bool",
        True,
        "first map each feature to a standard normal through its ranks (MI unchanged; "
        "heavy tails and skew no longer mislead the critic); False gives the raw features",
    ),
    _choice("units", UNITS, "bits or nats, for every number reported"),
    _int(
        "seed",
        None,
        0,
        "makes the result reproducible; None draws one and records it",
        optional=True,
    ),
    OptionSpec(
        "device",
        "device",
        "auto",
        "auto (CUDA when present), cpu, cuda or cuda:N",
        choices=DEVICES,
    ),
    _int(
        "threads",
        None,
        1,
        "torch CPU threads while training; None: 1 (fastest for these small models)",
        optional=True,
    ),
    _choice(
        "precision",
        PRECISIONS,
        "matmuls of the batched training steps: float32, bfloat16, or auto (bfloat16 where"
        " the CPU or GPU has it natively, while many runs are stacked); bounds, optimiser and"
        " reported values stay float32",
    ),
    _int(
        "eval_batch_size",
        DEFAULT_EVAL_BATCH_SIZE,
        2,
        "block size of the reported values, evaluated once at the best checkpoint",
    ),
    OptionSpec(
        "smile_clip",
        "float",
        DEFAULT_SMILE_CLIP,
        "SMILE clip tau",
        low=0.0,
        low_open=True,
    ),
    _int(
        "median_window",
        DEFAULT_MEDIAN_WINDOW,
        1,
        "median-filter window smoothing the validation curve (odd)",
        odd=True,
    ),
    OptionSpec(
        "gaussian_sigma",
        "float",
        DEFAULT_GAUSSIAN_SIGMA,
        "Gaussian-filter sigma smoothing the validation curve",
        low=0.0,
    ),
    # ----- the rigorous analysis -----
    OptionSpec(
        "gammas",
        "gammas",
        DEFAULT_GAMMAS,
        "subsampling factors: gamma g trains g runs on N/g samples each",
        **_RIGOROUS,
    ),
    _int(
        "repeats",
        DEFAULT_REPEATS,
        1,
        "runs per chunk, each with its own seed (nmi.sweep and nmi.lag: estimates per "
        "grid point or lag, default 3, or runs per chunk when rigorous)",
        **_RIGOROUS,
    ),
    OptionSpec(
        "delta_threshold",
        "float",
        DEFAULT_DELTA_THRESHOLD,
        "curvature |a2/a1| at which the fit drops the largest gamma (inf: never)",
        low=0.0,
        low_open=True,
        finite=False,
        **_RIGOROUS,
    ),
    _int(
        "min_gamma_points",
        DEFAULT_MIN_GAMMA_POINTS,
        2,
        "fewest gammas a reliable fit keeps",
        **_RIGOROUS,
    ),
    OptionSpec(
        "confidence_level",
        "float",
        DEFAULT_CONFIDENCE_LEVEL,
        "level of the confidence and prediction intervals",
        low=0.0,
        high=1.0,
        low_open=True,
        high_open=True,
        **_RIGOROUS,
    ),
    OptionSpec(
        "exclude",
        "gamma_subset",
        None,
        "gammas dropped from the fit by hand (None: the automatic choice)",
        optional=True,
        **_RIGOROUS,
    ),
    OptionSpec(
        "batched",
        "bool",
        True,
        "train all runs at once as one vectorised model (False: one after another)",
        **_MANY_RUNS,
    ),
    OptionSpec(
        "control",
        "bool",
        True,
        "also train a shuffled-pairs control (true MI 0), about 10 % extra training",
        **_RIGOROUS,
    ),
    OptionSpec(
        "critic_search",
        "bool",
        False,
        "opt in: with few samples per input feature, if the default critic memorises (its "
        "training- and validation-MI extrapolations disagree), also try two smaller critics "
        "and keep the one whose extrapolations agree best (up to 3x the training there; a lag "
        "scan or a conditional MI keeps one critic for all its lags or terms).  Measured: "
        "right on Gaussian latents seen through many channels, 10-50 % low on heavy-tailed "
        "or warped ones, sometimes called reliable there",
        scope=ANALYSIS,
        analyses=("rigorous", "lag", "conditional"),
    ),
    OptionSpec(
        "executor",
        "executor",
        None,
        "a concurrent.futures executor or Dask Client for the runs (None: this process; "
        "the magic takes a notebook name)",
        **_MANY_RUNS,
    ),
    _int(
        "retries",
        DEFAULT_RETRIES,
        0,
        "resubmissions of a failed work unit before its runs are reported failed",
        **_MANY_RUNS,
    ),
)

_SWEEP = {"scope": ANALYSIS, "analyses": ("sweep",)}
_DIMENSIONALITY = {"scope": ANALYSIS, "analyses": ("dimensionality",)}
_TABLE += (
    # ----- sweeps and dimensionality -----
    OptionSpec(
        "grid",
        "grid",
        None,
        "the settings a sweep tries: {option: [values, ...]}, the cartesian product of "
        "several keys; any run option but seed, units, device and threads",
        optional=True,
        **_SWEEP,
    ),
    OptionSpec(
        "rigorous",
        "bool",
        False,
        "each grid point (nmi.lag: each lag) a full rigorous analysis (corrected MI, "
        "interval, verdict) instead of repeated estimates (nmi.conditional and "
        "nmi.transfer: each term, default True there)",
        scope=ANALYSIS,
        analyses=("sweep", "lag", "pairwise", "conditional", "transfer"),
    ),
    OptionSpec(
        "embedding_dims",
        "dims",
        DEFAULT_EMBEDDING_DIMS,
        "embedding dimensions whose MI curve is read for its saturation point",
        **_DIMENSIONALITY,
    ),
    _int(
        "splits",
        DEFAULT_SPLITS,
        2,
        "curves of a dimensionality analysis: seeded train/validation splits (with y) or "
        "random halves of X's channels (without y)",
        **_DIMENSIONALITY,
    ),
    # ----- MI against lag -----
    OptionSpec(
        "lags",
        "lags",
        DEFAULT_LAGS,
        "the lags k (in samples) of MI(x_t; y_{t+k}); positive k: x leads y",
        scope=ANALYSIS,
        analyses=("lag",),
    ),
)

_PERMUTATION = {"scope": ANALYSIS, "analyses": ("permutation_test",)}
_TABLE += (
    # ----- permutation test -----
    _int(
        "permutations",
        DEFAULT_PERMUTATIONS,
        1,
        "null runs of a permutation test, each trained like the observed run; the "
        "smallest p-value is 1 / (permutations + 1)",
        **_PERMUTATION,
    ),
    OptionSpec(
        "null",
        "choice",
        NULLS[0],
        "how null pairs are made: permute (i.i.d. samples), circular (time series: y "
        "shifted circularly by at least block_size) or block (blocks of block_size "
        "samples of y permuted)",
        choices=NULLS,
        **_PERMUTATION,
    ),
    _int(
        "block_size",
        None,
        1,
        "samples of the smallest circular shift or of one permuted block; None: N // 20",
        optional=True,
        **_PERMUTATION,
    ),
)

_TRANSFER = {"scope": ANALYSIS, "analyses": ("transfer",)}
_TABLE += (
    # ----- conditional MI and transfer entropy -----
    OptionSpec(
        "z",
        "variable",
        None,
        "conditional MI: the variable conditioned on, samples in rows (in the magic a "
        "notebook expression: --z behaviour or z = behaviour in the body)",
        optional=True,
        scope=ANALYSIS,
        analyses=("conditional",),
    ),
    _int(
        "history",
        1,
        1,
        "transfer entropy: past samples of each series (the pasts x_{t-history+1..t})",
        **_TRANSFER,
    ),
    _int(
        "horizon",
        1,
        1,
        "transfer entropy: how many samples ahead the predicted future y_{t+horizon} lies",
        **_TRANSFER,
    ),
    OptionSpec(
        "both",
        "bool",
        True,
        "transfer entropy: also TE(Y->X), for the directionality index (False: X->Y only)",
        **_TRANSFER,
    ),
)

#: Every option by name, in the order help and the README list them.
OPTIONS: MappingProxyType[str, OptionSpec] = MappingProxyType({o.name: o for o in _TABLE})


def _select(scope: str | None, analysis: str | None) -> Iterator[OptionSpec]:
    for spec in OPTIONS.values():
        if (scope is None or spec.scope == scope) and (
            analysis is None or analysis in spec.analyses
        ):
            yield spec


def run_options() -> tuple[OptionSpec, ...]:
    """The options of one training run: the fields of ``EstimateConfig``, in order."""
    return tuple(_select(RUN, None))


def analysis_options(analysis: str) -> tuple[str, ...]:
    """Names of the options ``analysis`` takes beyond those of its runs."""
    return tuple(spec.name for spec in _select(ANALYSIS, analysis))


def options_of(analysis: str) -> tuple[str, ...]:
    """Names of every option ``analysis`` takes (its runs' and its own)."""
    return tuple(spec.name for spec in _select(None, analysis))
