"""``%%neuralmi`` / ``%neuralmi``: resolve names, call the engine API, store the result."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

import nmi_jupyter as nmi
from nmi_jupyter.engine.errors import NeuralMIError
from nmi_jupyter.magic.background import BackgroundRun
from nmi_jupyter.magic.options import CONFIG_OPTIONS, MagicDefaults, merge_options
from nmi_jupyter.magic.parse import LINE_PARSER, RIGOROUS_KEYS, parse_body, parse_line

__all__ = ["NeuralMIMagics", "load", "unload", "HELP"]

HELP = """Estimate the mutual information I(X;Y) between two arrays with a neural critic.

Usage::

    %%neuralmi X Y [--mode estimate|rigorous] [options] [-o NAME]
    key = value          # further options, one per line; values are Python
    ...

    %neuralmi X Y [options]          # the one-line form

X and Y are names or Python expressions in the notebook (``spikes[:, :10]``),
one row per sample.  The result is stored in NAME (default ``_nmi``) and shown.

Examples::

    %%neuralmi x y --seed 0
    epochs = 100

    %%neuralmi spikes[:, :10] behaviour --mode rigorous -o res
    estimator = "smile"
    gammas = range(1, 8)

    %neuralmi x y --epochs 20 --units nats

Session defaults: ``%config NeuralMIMagics.epochs = 100`` (overridden by the
line, which a body line may not contradict).  Python twin: the same call is
``nmi_jupyter.estimate(X, Y, **options)`` or ``nmi_jupyter.rigorous(...)``.
Interrupt the kernel to stop training: the partial result is kept, marked
interrupted.  Body keys: every option of ``nmi_jupyter.EstimateConfig`` plus
gammas, repeats, delta_threshold, min_gamma_points, confidence_level, exclude,
batched, control, executor, retries and mode.

Scale out (rigorous): ``--executor client`` trains the runs as work units on a
``concurrent.futures`` executor or a Dask ``Client`` held in the notebook variable
``client``; ``%config NeuralMIMagics.executor = "client"`` makes it the default.

"""


@magics_class
class NeuralMIMagics(Magics, MagicDefaults):
    """The nmi_jupyter magics; its traits are the ``%config NeuralMIMagics`` defaults."""

    @line_cell_magic
    def neuralmi(self, line: str, cell: str | None = None) -> Any:
        try:
            return self._run(line, cell or "")
        except NeuralMIError as exc:
            raise UsageError(str(exc)) from None

    neuralmi.__doc__ = HELP + LINE_PARSER.format_help()

    def _run(self, line: str, body: str) -> Any:
        request = parse_line(line)
        body_values = {
            item.key: self._evaluate(item.source, f"body line {item.lineno} ({item.key})")
            for item in parse_body(body)
        }
        defaults = {name: getattr(self, name) for name in CONFIG_OPTIONS}
        options = merge_options(defaults, request.options, body_values)
        mode = options.pop("mode", "estimate")
        if mode not in ("estimate", "rigorous"):
            raise UsageError(f"%%neuralmi: mode must be estimate or rigorous, not {mode!r}.")
        if mode == "estimate":
            misplaced = sorted((request.options.keys() | body_values.keys()) & set(RIGOROUS_KEYS))
            if misplaced:
                raise UsageError(
                    f"%%neuralmi: {', '.join(misplaced)} only apply to --mode rigorous."
                )
            # %config defaults for rigorous analyses do not concern a single estimate
            options = {k: v for k, v in options.items() if k not in RIGOROUS_KEYS}
        if isinstance(options.get("executor"), str):
            options["executor"] = self._evaluate(options["executor"], "executor")
        x = self._evaluate(request.x, "X")
        y = self._evaluate(request.y, "Y")
        api = nmi.rigorous if mode == "rigorous" else nmi.estimate
        panel = handle = None
        if request.quiet:
            observer = None
        elif request.widgets:
            panel, handle = self._panel(mode, options, stoppable=request.background)
            observer = panel
        else:
            observer = self._progress(mode, options)
        if request.background:
            return self._start_background(api, x, y, observer, options, request.out, panel, handle)
        result = api(x, y, observer=observer, **options)
        self._finish(panel, handle, result)
        self.shell.user_ns[request.out] = result
        if panel is not None and mode == "rigorous":
            self._show_fit_panel(result, request.out)
        return result

    def _show_fit_panel(self, result, out: str) -> None:
        """The drag-and-click fit panel; every change is stored back under ``out``."""
        from IPython.display import display

        if result.fit is None:
            return

        def store(refit) -> None:
            self.shell.user_ns[out] = refit

        display(result.panel(on_change=store))

    def _start_background(self, api, x, y, observer, options, out, panel, handle) -> BackgroundRun:
        """Run in a worker thread; ``out`` holds the handle, then the result."""
        holder: list[BackgroundRun] = []

        def on_done(result: Any) -> None:
            if holder and self.shell.user_ns.get(out) is holder[0]:
                self.shell.user_ns[out] = result
            self._finish(panel, handle, result)

        run = BackgroundRun(
            lambda cancel: api(x, y, observer=observer, cancel=cancel, **options), on_done
        )
        holder.append(run)
        if panel is not None:
            panel.on_stop = run.stop
        self.shell.user_ns[out] = run
        return run

    @staticmethod
    def _panel(mode: str, options: dict[str, Any], stoppable: bool):
        from IPython.display import display

        from nmi_jupyter.widgets.training_panel import TrainingPanel

        panel = TrainingPanel(mode, total_runs=_total_runs(mode, options), stoppable=stoppable)
        return panel, display(panel, display_id=True)

    @staticmethod
    def _finish(panel, handle, result) -> None:
        if panel is None:
            return
        panel.finish(result)
        if handle is not None:
            handle.update(panel.mimebundle(result), raw=True)

    def _evaluate(self, source: str, what: str) -> Any:
        try:
            return self.shell.ev(source)
        except Exception as exc:  # the user's expression: report it, do not crash
            raise UsageError(
                f"%%neuralmi: could not evaluate {what} = {source!r}: {type(exc).__name__}: {exc}"
            ) from None

    @staticmethod
    def _progress(mode: str, options: dict[str, Any]):
        from nmi_jupyter.widgets.text_progress import TextProgress

        return TextProgress(total_runs=_total_runs(mode, options))


def _total_runs(mode: str, options: dict[str, Any]) -> int:
    """Runs an analysis will train (shuffled-pairs controls included), for progress."""
    if mode != "rigorous":
        return 1
    gammas = list(options.get("gammas", range(1, 11)))
    return sum(gammas) * int(options.get("repeats", 1)) + (3 if options.get("control", True) else 0)


_FLAGS = sorted(
    {s for action in LINE_PARSER._actions for s in action.option_strings if s.startswith("--")}
)


def _complete(self, event) -> list[str]:
    """Tab completion for the magic line: option names starting with what was typed."""
    return [flag for flag in _FLAGS if flag.startswith(event.symbol)]


def load(ip) -> None:
    """Register the magics (idempotent) and make ``%config NeuralMIMagics`` work."""
    if any(isinstance(c, NeuralMIMagics) for c in ip.configurables):
        return
    magics = NeuralMIMagics(shell=ip)
    ip.register_magics(magics)  # also lists it in ip.configurables, for %config
    if magics not in ip.configurables:
        ip.configurables.append(magics)
    for key in ("%neuralmi", "%%neuralmi"):
        ip.set_hook("complete_command", _complete, str_key=key)


def unload(ip) -> None:
    """Remove the magics and their configurable."""
    for kind in ("line", "cell"):
        ip.magics_manager.magics[kind].pop("neuralmi", None)
    ip.configurables[:] = [c for c in ip.configurables if not isinstance(c, NeuralMIMagics)]
