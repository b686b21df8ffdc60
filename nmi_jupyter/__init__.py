"""nmi_jupyter: rigorous neural mutual-information estimation, Jupyter-native.

Importing the package pulls in no IPython or widget code; the notebook extension
is loaded with ``%load_ext nmi_jupyter``.
"""

from __future__ import annotations

__version__ = "0.1.0"

from nmi_jupyter import generators
from nmi_jupyter.engine.api import estimate, rigorous
from nmi_jupyter.engine.config import EstimateConfig
from nmi_jupyter.engine.dependence import conditional, transfer
from nmi_jupyter.engine.dependence_result import ConditionalResult, TransferResult
from nmi_jupyter.engine.dimensionality import DimensionalityResult
from nmi_jupyter.engine.errors import (
    InsufficientDataError,
    InvalidDataError,
    NeuralMIError,
    NeuralMIWarning,
    OptionError,
)
from nmi_jupyter.engine.events import CancelToken, EpochEnded, RunEnded, RunStarted
from nmi_jupyter.engine.lag import lag
from nmi_jupyter.engine.lag_result import LagResult
from nmi_jupyter.engine.pairwise import pairwise
from nmi_jupyter.engine.pairwise_result import PairwiseResult
from nmi_jupyter.engine.permutation import permutation_test
from nmi_jupyter.engine.permutation_result import PermutationResult
from nmi_jupyter.engine.results import EstimateResult, load
from nmi_jupyter.engine.rigorous_result import RigorousResult, RunRecord
from nmi_jupyter.engine.sweep import dimensionality, sweep
from nmi_jupyter.engine.sweep_result import SweepResult
from nmi_jupyter.engine.timeseries import (
    bin_spikes,
    one_hot,
    spike_windows,
    window_labels,
    windows,
)

__all__ = [
    "__version__",
    "generators",
    "estimate",
    "rigorous",
    "sweep",
    "dimensionality",
    "windows",
    "bin_spikes",
    "spike_windows",
    "one_hot",
    "window_labels",
    "lag",
    "LagResult",
    "conditional",
    "transfer",
    "ConditionalResult",
    "TransferResult",
    "pairwise",
    "permutation_test",
    "PairwiseResult",
    "PermutationResult",
    "RigorousResult",
    "SweepResult",
    "DimensionalityResult",
    "RunRecord",
    "load",
    "EstimateConfig",
    "EstimateResult",
    "CancelToken",
    "RunStarted",
    "EpochEnded",
    "RunEnded",
    "NeuralMIError",
    "InvalidDataError",
    "InsufficientDataError",
    "OptionError",
    "NeuralMIWarning",
]


def load_ipython_extension(ipython) -> None:
    """``%load_ext nmi_jupyter``: register ``%%neuralmi`` (imported only now)."""
    from nmi_jupyter.magic.cell_magic import load

    load(ipython)


def unload_ipython_extension(ipython) -> None:
    """``%unload_ext nmi_jupyter``: remove the magics."""
    from nmi_jupyter.magic.cell_magic import unload

    unload(ipython)
