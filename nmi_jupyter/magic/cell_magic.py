"""``%%neuralmi`` / ``%neuralmi``: resolve names, call the engine API, store the result."""

from __future__ import annotations

import re
import textwrap
import threading
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

import nmi_jupyter as nmi
from nmi_jupyter.engine.errors import NeuralMIError
from nmi_jupyter.engine.options import options_of
from nmi_jupyter.magic.background import BackgroundRun
from nmi_jupyter.magic.options import CONFIG_OPTIONS, MagicDefaults, merge_options
from nmi_jupyter.magic.parse import (
    LINE_PARSER,
    MODES,
    RIGOROUS_KEYS,
    USAGE,
    completions,
    parse_body,
    parse_line,
    split_line,
)

__all__ = ["NeuralMIMagics", "load", "unload", "HELP"]

HELP = """Estimate the mutual information I(X;Y) between two arrays with a neural critic.

Usage::

    {usage}
    key = value          # further options, one per line; values are Python
    ...

    %neuralmi X Y [options]          # the one-line form: the same panels and result

A cell magic (``%%``) needs a body below its line; with no ``key = value`` lines to
give, use the line magic (one ``%``).  ``%neuralmi --help`` shows this help.

X and Y are names or Python expressions in the notebook (``spikes[:, :10]``),
one row per sample.  The result is stored in NAME (default ``_nmi``) and shown.

Examples::

    %%neuralmi x y --seed 0
    epochs = 100

    %%neuralmi spikes[:, :10] behaviour --mode rigorous -o res
    estimator = "smile"
    gammas = range(1, 8)

    %neuralmi x y --epochs 20 --units nats

    %neuralmi x y --mode rigorous --background -o res

    %%neuralmi x y --mode sweep -o sw
    grid = {"embedding_dim": [1, 2, 4, 8]}

    %neuralmi x None --mode dimensionality --splits 3     # y None: X's own dimension

    %%neuralmi x y --mode lag -o lg        # MI(x_t; y_t+k); k > 0: x leads y
    lags = range(-5, 6)

    %neuralmi spikes None --mode pairwise -o pw     # every pair of channels: pw.matrix
    %neuralmi x y --mode permutation_test --permutations 99   # a p-value

    %neuralmi x y --mode conditional --z behaviour -o c     # I(X;Y|Z): c.mi, c.interval
    %neuralmi x y --mode transfer --history 2 -o te         # te.te_xy, te.te_yx

Session defaults: ``%config NeuralMIMagics.epochs = 100`` (overridden by the
line, which a body line may not contradict).  Python twin: the same call is
``nmi_jupyter.estimate(X, Y, **options)`` or ``nmi_jupyter.rigorous(...)``.
Interrupt the kernel to stop training: the partial result is kept, marked
interrupted.  After a rigorous analysis the fit panel is the result's view (drag or
click to refit; NAME follows it), so the cell shows no second, static copy of it.

Every option can be given four ways, checked alike: on the line (``--batch-size 64``;
a boolean as ``--copula``/``--no-copula``), in the body (``batch_size = 64``), as a
session default (``%config NeuralMIMagics.batch_size = 64``) and in Python
(``nmi.estimate(x, y, batch_size=64)``).  Flags, body keys and option values
tab-complete.  Body keys: ``mode`` and

{options}

Scale out (rigorous): ``%neuralmi x y --mode rigorous --executor client`` trains the
runs as work units on a ``concurrent.futures`` executor or a Dask ``Client`` held in
the notebook variable ``client``; ``%config NeuralMIMagics.executor = "client"`` makes
it the default.

"""


def _body_keys_text() -> str:
    """The option names by the analyses that take them, wrapped for the help."""
    base = options_of(MODES[0])
    groups = [("every analysis: ", base)]
    groups += [
        (f"--mode {m} also: ", [n for n in options_of(m) if n not in base]) for m in MODES[1:]
    ]
    lines = []
    for lead, names in groups:
        lines += textwrap.wrap(lead + ", ".join(names) + ".", width=84, subsequent_indent="  ")
    return "\n".join("    " + line for line in lines)


HELP = HELP.replace("{options}", _body_keys_text()).replace("{usage}", USAGE)


@magics_class
class NeuralMIMagics(Magics, MagicDefaults):
    """The nmi_jupyter magics; its traits are the ``%config NeuralMIMagics`` defaults."""

    @line_cell_magic
    def neuralmi(self, line: str, cell: str | None = None) -> Any:
        try:
            if _asks_for_help(line):
                print(self.neuralmi.__doc__)
                return None
            return self._run(line, cell or "")
        except (NeuralMIError, UsageError) as exc:
            # Say the form the user typed: %neuralmi (a line) or %%neuralmi (a cell).
            message = str(exc)
            if cell is None:
                message = message.replace("%%neuralmi", "%neuralmi")
            raise UsageError(message) from None

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
        if mode not in MODES:
            raise UsageError(f"%%neuralmi: mode must be one of {', '.join(MODES)}, not {mode!r}.")
        taken = set(options_of(mode))
        misplaced = sorted((request.options.keys() | body_values.keys()) & (RIGOROUS_KEYS - taken))
        if misplaced:
            where = ", ".join(m for m in MODES if set(misplaced) <= set(options_of(m)))
            raise UsageError(
                f"%%neuralmi: {', '.join(misplaced)} only apply to --mode {where or 'rigorous'}."
            )
        # %config defaults for other analyses do not concern this one
        options = {k: v for k, v in options.items() if k in taken}
        if isinstance(options.get("executor"), str):
            options["executor"] = self._evaluate(options["executor"], "executor")
        if isinstance(options.get("z"), str):  # --mode conditional: a notebook expression
            options["z"] = self._evaluate(options["z"], "z")
        x = self._evaluate(request.x, "X")
        y = self._evaluate(request.y, "Y")
        api = getattr(nmi, mode)
        live = None
        if request.quiet:
            observer = None
        elif request.widgets and mode not in _TEXT_PROGRESS:
            live = _LivePanel(mode, options, stoppable=request.background)
            observer = live
        elif mode in _TEXT_PROGRESS:
            from nmi_jupyter.widgets.text_progress import TextProgress

            observer = TextProgress(total_runs=_many_runs(mode, options, x, y) or 1)
        else:
            observer = self._progress(mode, options)
        if request.background:
            return self._start_background(api, x, y, observer, options, request.out, live)
        result = api(x, y, observer=observer, **options)
        self.shell.user_ns[request.out] = result
        if mode == "pairwise" and request.widgets and not request.quiet:
            from IPython.display import display

            display(result.panel())  # the heatmap: click a cell for that pair's training
            return None
        if live is not None and mode in _RESULT_PANELS:
            # the live panel states what ran; the result's panel below shows the numbers
            from IPython.display import display

            live.show()
            live.finish(result, fit_below=True)
            display(result.panel())
            return None
        fit = self._fit_panel(result, request.out) if live is not None else None
        if live is not None:
            live.show()
            live.finish(result, fit_below=fit is not None)
        if fit is None:
            return result
        # The fit panel is the result's view from now on: its numbers, picture and text
        # follow every drag, so the cell returns nothing that would show a stale copy.
        from IPython.display import display

        display(fit)
        return None

    def _fit_panel(self, result, out: str):
        """The drag-and-click fit panel of a rigorous result (None without a fit); every
        change is stored back under ``out``."""
        if getattr(result, "fit", None) is None or not hasattr(result, "gammas_used"):
            return None

        def store(refit) -> None:
            self.shell.user_ns[out] = refit

        return result.panel(on_change=store)

    def _start_background(self, api, x, y, observer, options, out, live) -> BackgroundRun:
        """Run in a worker thread; ``out`` holds the handle, then the result.

        The cell returns once training has started: a mistake in the options or the
        data is reported here, as for a blocking cell, and no panel is drawn for it.
        """
        started, go = threading.Event(), threading.Event()
        holder: list[BackgroundRun] = []

        def observe(event) -> None:
            started.set()
            if observer is not None:
                (live.panel if live is not None else observer)(event)

        def work(cancel):
            go.wait()  # until the handle is stored, so on_done can replace it
            return api(x, y, observer=observe, cancel=cancel, **options)

        def on_done(result: Any) -> None:
            if self.shell.user_ns.get(out) is holder[0]:
                self.shell.user_ns[out] = result
            if live is not None:
                # a sweep's result panel, or a rigorous result's fit panel, goes below
                sweep = live.panel.mode == "sweep"
                fit = result.panel() if sweep else self._fit_panel(result, out)
                live.finish(result, fit_below=fit is not None)
                if fit is not None:
                    # Displays from a worker thread may reach no cell; a child of the
                    # live panel (a widget) always does.
                    live.panel.children = (*live.panel.children, fit)

        run = BackgroundRun(work, on_done)
        holder.append(run)
        missing = object()
        previous = self.shell.user_ns.get(out, missing)
        self.shell.user_ns[out] = run
        go.set()
        while not (started.wait(0.05) or run.done):
            pass
        if run.done and run.error is not None:
            if previous is missing:
                self.shell.user_ns.pop(out, None)
            else:
                self.shell.user_ns[out] = previous
            run.result()  # raises the user's mistake here, in the cell
        if live is not None:
            live.panel.on_stop = run.stop
            live.show()
        return run

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


# Analyses whose result has its own panel, shown when training ends.
_RESULT_PANELS = ("sweep", "dimensionality", "lag")


# Analyses of many like runs shown with a progress line (no live panel of theirs yet).
_TEXT_PROGRESS = ("pairwise", "permutation_test", "conditional", "transfer")


def _many_runs(mode: str, options: dict[str, Any], x: Any, y: Any) -> int | None:
    """Runs of a pairwise map (its channel pairs) or a permutation test, for progress;
    None where the options or data are wrong (the engine then says why)."""
    import numpy as np

    try:
        if mode in ("conditional", "transfer"):  # two terms per difference, one plan
            terms = 4 if mode == "transfer" and options.get("both", True) else 2
            rigorous = bool(options.get("rigorous", True))
            per_term = _total_runs("rigorous", options) if rigorous else options.get("repeats", 1)
            return terms * int(per_term)
        if mode == "permutation_test":
            return int(options.get("permutations", 199)) + 1
        if mode != "pairwise":
            return None
        cx = int(np.prod(np.shape(x)[1:], dtype=int)) if np.ndim(x) > 1 else 1
        cy = int(np.prod(np.shape(y)[1:], dtype=int)) if np.ndim(y) > 1 else 1
        pairs = cx * (cx - 1) // 2 if y is None else cx * cy
        rigorous = bool(options.get("rigorous", False))
        per_pair = _total_runs("rigorous", options) if rigorous else int(options.get("repeats", 1))
        return max(pairs, 1) * per_pair
    except (TypeError, ValueError):
        return None


def _total_runs(mode: str, options: dict[str, Any]) -> int:
    """Runs an analysis will train (shuffled-pairs controls included), for progress."""
    if mode == "dimensionality":
        dims = options.get("embedding_dims", range(1, 13))
        return len(list(dims)) * int(options.get("splits", 5))
    if mode == "lag":
        plan = _sweep_plan(mode, options)
        runs = plan["runs_per_point"] + plan.get("controls_per_point", 0)
        return max(len(plan["points"]), 1) * runs
    if mode == "sweep":
        grid = options.get("grid") or {}
        points = 1
        for values in grid.values():
            points *= len(list(values)) if not isinstance(values, str) else 1
        if options.get("rigorous"):
            rigorous = {**options, "repeats": options.get("repeats", 1)}
            return points * _total_runs("rigorous", rigorous)
        return points * int(options.get("repeats", 3))
    if mode != "rigorous":
        return 1
    gammas = list(options.get("gammas", range(1, 11)))
    return sum(gammas) * int(options.get("repeats", 1)) + _controls(mode, options)


def _sweep_plan(mode: str, options: dict[str, Any]) -> dict[str, Any]:
    """The grid points of a sweep or dimensionality analysis in training order and the
    runs of each, for the live panel (the events carry run ids, not points).  Options
    the engine will reject give an empty plan: it reports them before any event."""
    from nmi_jupyter.engine.options import DEFAULT_EMBEDDING_DIMS, DEFAULT_SPLITS, OPTIONS
    from nmi_jupyter.engine.sweep import check_grid, grid_points

    try:
        if mode == "dimensionality":
            dims = OPTIONS["embedding_dims"].check(
                options.get("embedding_dims", DEFAULT_EMBEDDING_DIMS)
            )
            splits = OPTIONS["splits"].check(options.get("splits", DEFAULT_SPLITS))
            points = [{"embedding_dim": d} for d in dims]
            return {"points": points, "runs_per_point": splits, "dimensionality": True}
        if mode == "lag":  # one point per lag
            lags = OPTIONS["lags"].check(options.get("lags", OPTIONS["lags"].default))
            points = [{"lag": k} for k in lags]
        else:
            points = grid_points(check_grid(options.get("grid")))
        rigorous = bool(options.get("rigorous", False))
        repeats = int(options.get("repeats", 1 if rigorous else 3))
        if not rigorous:
            return {"points": points, "runs_per_point": repeats}
        gammas = list(options.get("gammas", OPTIONS["gammas"].default))
        return {
            "points": points,
            "runs_per_point": sum(gammas) * repeats,
            "controls_per_point": _controls("rigorous", options),
            "rigorous": True,
        }
    except (NeuralMIError, TypeError, ValueError):
        return {"points": [], "runs_per_point": 1}


def _controls(mode: str, options: dict[str, Any]) -> int:
    return 3 if mode == "rigorous" and options.get("control", True) else 0


def _asks_for_help(line: str) -> bool:
    try:
        tokens = split_line(line)
    except NeuralMIError:
        return False
    return any(token in ("-h", "--help") for token in tokens)


class _LivePanel:
    """The live training panel of one cell, put on screen at the first engine event.

    The engine checks every option and the data before it emits an event, so a
    mistake is reported without an empty panel above it.
    """

    def __init__(self, mode: str, options: dict[str, Any], stoppable: bool) -> None:
        from nmi_jupyter.widgets.training_panel import TrainingPanel

        if mode in _RESULT_PANELS:
            from nmi_jupyter.widgets.sweep_live_panel import SweepLivePanel

            self.panel = SweepLivePanel(**_sweep_plan(mode, options), stoppable=stoppable)
            if mode == "lag":
                from nmi_jupyter.engine.lag_result import LAG_AXIS_LABEL

                self.panel.value_axis.label = LAG_AXIS_LABEL
            self.handle = None
            return
        self.panel = TrainingPanel(
            mode,
            total_runs=_total_runs(mode, options),
            stoppable=stoppable,
            controls=_controls(mode, options),
        )
        self.handle = None

    def __call__(self, event) -> None:
        self.show()
        self.panel(event)

    def show(self) -> None:
        if self.handle is None:
            from IPython.display import display

            self.handle = display(self.panel, display_id=True)

    def finish(self, result, fit_below: bool) -> None:
        """The final status line and the picture stored beside the widget."""
        self.panel.finish(result, fit_below=fit_below)
        if self.handle is not None:
            self.handle.update(self.panel.mimebundle(result, fit_below=fit_below), raw=True)


_MAGIC = re.compile(r"\s*%%?neuralmi\b")
_CELL = re.compile(r"\s*%%neuralmi\b")


def _complete(self, event) -> list[str]:
    """Completion of the magic line through IPython's ``complete_command`` hook (what
    IPython < 8.6 and ``shell.complete(text, line)`` use): flags and their values."""
    line = event.text_until_cursor
    if not line.endswith(event.symbol):  # a caller that gave no cursor position
        line = event.line
    magic = _MAGIC.match(line)
    return completions(line[magic.end() :] if magic else line, in_body=False)[1]


def _matcher(context) -> dict[str, Any]:
    """Tab completion in a ``%neuralmi`` line or a ``%%neuralmi`` cell (IPython's
    context-matcher API): line flags and their values, body keys and their values.
    Elsewhere it offers nothing and leaves the other completers alone."""
    from IPython.core.completer import SimpleCompletion

    before = context.text_until_cursor
    magic = _MAGIC.match(before)
    if magic:
        fragment, found = completions(before[magic.end() :], in_body=False)
    elif context.cursor_line > 0 and _CELL.match(context.full_text):
        fragment, found = completions(before, in_body=True)
    else:
        fragment, found = "", []
    return {
        "completions": [SimpleCompletion(text=text, type="param") for text in found],
        "suppress": bool(found),
        "matched_fragment": fragment,
    }


_matcher.matcher_api_version = 2  # type: ignore[attr-defined]


def load(ip) -> None:
    """Register the magics (idempotent) and make ``%config NeuralMIMagics`` work."""
    if any(isinstance(c, NeuralMIMagics) for c in ip.configurables):
        return
    magics = NeuralMIMagics(shell=ip)
    ip.register_magics(magics)  # also lists it in ip.configurables, for %config
    if magics not in ip.configurables:
        ip.configurables.append(magics)
    from IPython.core import completer

    for key in ("%neuralmi", "%%neuralmi"):
        ip.set_hook("complete_command", _complete, str_key=key)
    matchers = getattr(ip.Completer, "custom_matchers", None)
    # IPython >= 8.6: a context matcher also sees the cell, for body keys and values.
    if hasattr(completer, "context_matcher") and matchers is not None:
        if _matcher not in matchers:
            matchers.append(_matcher)


def unload(ip) -> None:
    """Remove the magics and their configurable."""
    for kind in ("line", "cell"):
        ip.magics_manager.magics[kind].pop("neuralmi", None)
    ip.configurables[:] = [c for c in ip.configurables if not isinstance(c, NeuralMIMagics)]
    matchers = getattr(ip.Completer, "custom_matchers", [])
    if _matcher in matchers:
        matchers.remove(_matcher)
