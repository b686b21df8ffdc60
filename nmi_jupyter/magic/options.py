"""Session defaults (``%config NeuralMIMagics.<option> = ...``) and the one merge.

Precedence: engine defaults < ``%config`` < the magic line < the cell body.  A
key given on both the line and the body with different values is an error, so
what a cell says is never silently overridden.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from traitlets import Bool, CFloat, CInt, Enum, HasTraits, List, Unicode

from nmi_jupyter.engine.config import CRITICS, ESTIMATORS, SPLITS, UNITS
from nmi_jupyter.magic.parse import MODES, MagicSyntaxError

__all__ = ["MagicDefaults", "merge_options", "CONFIG_OPTIONS"]


class MagicDefaults(HasTraits):
    """Traits set by ``%config NeuralMIMagics.<name> = value``; None keeps the engine default."""

    mode = Enum(MODES, default_value=None, allow_none=True, help="estimate or rigorous").tag(
        config=True
    )
    estimator = Enum(ESTIMATORS, default_value=None, allow_none=True, help="MI bound").tag(
        config=True
    )
    critic = Enum(CRITICS, default_value=None, allow_none=True, help="critic").tag(config=True)
    epochs = CInt(None, allow_none=True, help="most epochs").tag(config=True)
    batch_size = CInt(None, allow_none=True, help="minibatch size").tag(config=True)
    lr = CFloat(None, allow_none=True, help="Adam learning rate").tag(config=True)
    patience = CInt(None, allow_none=True, help="early-stopping patience").tag(config=True)
    hidden_dim = CInt(None, allow_none=True, help="MLP width").tag(config=True)
    n_layers = CInt(None, allow_none=True, help="MLP hidden layers").tag(config=True)
    embedding_dim = CInt(None, allow_none=True, help="embedding size").tag(config=True)
    split = Enum(SPLITS, default_value=None, allow_none=True, help="random or blocked").tag(
        config=True
    )
    copula = Bool(None, allow_none=True, help="rank-Gaussianise each feature").tag(config=True)
    units = Enum(UNITS, default_value=None, allow_none=True, help="bits or nats").tag(config=True)
    seed = CInt(None, allow_none=True, help="random seed").tag(config=True)
    device = Unicode(None, allow_none=True, help="auto, cpu, cuda").tag(config=True)
    gammas = List(CInt(), default_value=None, allow_none=True, help="rigorous gammas").tag(
        config=True
    )
    delta_threshold = CFloat(None, allow_none=True, help="curvature threshold").tag(config=True)
    min_gamma_points = CInt(None, allow_none=True, help="fewest gammas in a fit").tag(config=True)
    confidence_level = CFloat(None, allow_none=True, help="interval level").tag(config=True)
    batched = Bool(None, allow_none=True, help="train rigorous runs at once").tag(config=True)
    executor = Unicode(
        None, allow_none=True, help="name of a notebook variable holding an executor or Client"
    ).tag(config=True)
    retries = CInt(None, allow_none=True, help="resubmissions of a failed work unit").tag(
        config=True
    )


CONFIG_OPTIONS = tuple(MagicDefaults.class_traits(config=True))


def merge_options(
    config: Mapping[str, Any], line: Mapping[str, Any], body: Mapping[str, Any]
) -> dict[str, Any]:
    """defaults < config < line < body, dropping unset (None) config values.

    Raises :class:`MagicSyntaxError` when the line and the body disagree on a key.
    """
    for key in line.keys() & body.keys():
        if not _same(line[key], body[key]):
            raise MagicSyntaxError(
                f"%%neuralmi: '{key}' is given on the line ({line[key]!r}) and in the body "
                f"({body[key]!r}); keep one."
            )
    merged = {k: v for k, v in config.items() if v is not None}
    merged.update(line)
    merged.update(body)
    return merged


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or list(a) == list(b)
    except TypeError:
        return False
    except ValueError:  # arrays
        return False
