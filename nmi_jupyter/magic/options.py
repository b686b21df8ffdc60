"""Session defaults (``%config NeuralMIMagics.<option> = ...``) and the one merge.

Precedence: engine defaults < ``%config`` < the magic line < the cell body.  A
key given on both the line and the body with different values is an error, so
what a cell says is never silently overridden.  Values are checked by the engine's
own checks (:mod:`nmi_jupyter.engine.config`), a ``%config`` value when it is set
and the merged options before anything is shown or trained: ``epochs = 2.7`` is an
error everywhere, never 2.
"""

from __future__ import annotations

import ast
from collections.abc import Mapping
from typing import Any

from traitlets import Enum, HasTraits, TraitError, TraitType, Unicode

from nmi_jupyter.engine.config import (
    check_option,
    check_rigorous_options,
    make_config,
    option_names,
)
from nmi_jupyter.engine.errors import NeuralMIError
from nmi_jupyter.engine.options import OPTIONS, analysis_options
from nmi_jupyter.magic.parse import MODES, MagicSyntaxError

__all__ = ["MagicDefaults", "merge_options", "checked_options", "CONFIG_OPTIONS", "Option"]


class OptionTraitError(TraitError):
    """A ``%config`` value the engine would refuse; the message is the engine's sentence."""


class Option(TraitType):
    """A ``%config`` default checked as the engine checks that option (None: unset).

    Numbers are not coerced by traitlets (``CInt`` would turn 2.7 into 2): the value
    goes through :func:`nmi_jupyter.engine.config.check_option`, which also turns
    numpy scalars and ranges into plain Python values.
    """

    info_text = "a value nmi_jupyter accepts for this option, or None"

    def __init__(self, help: str) -> None:
        super().__init__(default_value=None, allow_none=True, help=help)

    def validate(self, obj: Any, value: Any) -> Any:
        if value is None:
            return None
        try:
            return check_option(self.name, value)
        except NeuralMIError as exc:
            raise OptionTraitError(f"%config NeuralMIMagics.{self.name}: {exc}") from None

    def from_string(self, s: str) -> Any:
        """Command-line values (``--NeuralMIMagics.epochs=100``) read as Python literals."""
        if s == "None":
            return None
        try:
            return ast.literal_eval(s)
        except (ValueError, SyntaxError):
            return s


def _config_traits() -> dict[str, TraitType]:
    """One ``%config`` trait per option of the table (and ``mode``), None when unset."""
    traits: dict[str, TraitType] = {
        "mode": Enum(MODES, default_value=None, allow_none=True, help="the analysis").tag(
            config=True
        )
    }
    for spec in OPTIONS.values():
        if spec.kind == "executor":  # a notebook name, looked up when a cell runs
            trait = Unicode(
                None,
                allow_none=True,
                help="name of a notebook variable holding an executor or Dask Client",
            )
        else:
            trait = Option(help=spec.help)
        traits[spec.name] = trait.tag(config=True)
    return traits


#: Traits set by ``%config NeuralMIMagics.<name> = value``, generated from the option
#: table; None keeps the engine default.
MagicDefaults = type(
    "MagicDefaults",
    (HasTraits,),
    {
        "__module__": __name__,
        "__doc__": "``%config NeuralMIMagics`` defaults, one per option; None: the engine default.",
        **_config_traits(),
    },
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
    return checked_options(merged)


def checked_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with every engine option checked by the engine's own checks and
    converted to plain values, before a panel is built or a run trained (``gammas = 5``
    is a sentence, not a TypeError in the progress display).  ``mode`` and ``executor``
    (a notebook name here) pass through.  Raises :class:`NeuralMIError`."""
    out = dict(options)
    estimate = [k for k in out if k in option_names()]
    if estimate:
        config = make_config(**{k: out[k] for k in estimate})
        out.update({k: getattr(config, k) for k in estimate})
    rigorous = {k: out[k] for k in analysis_options("rigorous") if k in out and k != "executor"}
    out.update(check_rigorous_options(rigorous))
    return out


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) or list(a) == list(b)
    except TypeError:
        return False
    except ValueError:  # arrays
        return False
