"""Accuracy of nmi.dimensionality on data with a known latent dimension (issue 19).

    python3 benchmarks/dimensionality_accuracy.py --device cuda --jobs 15 --json dims.json
    OMP_NUM_THREADS=1 python benchmarks/dimensionality_accuracy.py --quick   # a small CPU version
    python3 benchmarks/dimensionality_accuracy.py --plan                     # what it would train

The protocol (the defaults): generators.latent_channels with latent dimension k in
{2, 4, 6}, 80 channels per population, channel noise 1.0, N = 10000, seeds 0-4; for
each, the interaction dimensionality (x, y: two populations reading the same latent)
and the internal one (x alone, random halves of its channels), embedding dims 1..k+4,
with nmi.dimensionality's own defaults unless options are given.

Why that generator (the same for every k): at the generator's defaults (40 channels,
noise 0.3) a 6-dimensional latent shares far more than InfoNCE's log2(128) = 7-bit
ceiling (measured: a plateau of 6.6-6.8 bits, flagged ``ceiling``, read 5), and with 40
channels the weakest of the six latent directions carries only about 11 % of the shared
information (5-9 % between two 20-channel halves, by canonical correlations), near the
saturation rule's band (10 % then, 5 % now), so even an uncapped curve can read 5.  80
channels with noise 1.0 keep every k's shared information below the ceiling (about 5.5
bits at k = 6) and give the weakest direction 12-15 %.

It prints one line per analysis as it finishes (the dimension read, its per-split range,
the truth, the mean MI curve, the flags) and, at the end, per k and mode, how many seeds
read exactly k, the issue's bar being at least 4 of 5 (an analysis stopped by --limit-s
or not finished counts as a miss; its partial reading is printed, marked STOPPED).

--jobs J runs J analyses at once in spawned worker processes (one torch thread each;
the largest k first, so the workers end together: 15 jobs share the 30 analyses evenly);
--limit-s S stops every analysis S seconds after the start (each keeps the dims it
finished) and still prints and saves what finished; --json writes every reading,
rewritten as each one finishes.  The full protocol is 1200 runs, at most 4.26 million
optimiser steps (stacked by 5 splits: 852,000), about 3/4 of that with early stopping:
about a day on one CPU thread (a k = 6 run at N = 10000 took 80 CPU s), minutes on a
GPU.  --quick: k in {2, 4}, seed 1, N = 3000, 3 splits, 60 epochs, hidden_dim 32.
--only K:MODE ... runs only those (k, mode) pairs of --ks x --modes (for example
--ks 6 4 --only 6:internal 4:internal), to finish a protocol in parts.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import json
import math
import multiprocessing
import os
import sys
import threading
import time
from typing import Any

try:
    import nmi_jupyter as nmi
except ImportError:  # run from a checkout without installing it
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import nmi_jupyter as nmi

# The protocol's generator (see the module docstring and README "Sweeps and dimensionality").
CHANNELS = 80
NOISE = 1.0
FULL = {"ks": [2, 4, 6], "seeds": [0, 1, 2, 3, 4], "n": 10000, "splits": 5}
QUICK = {"ks": [2, 4], "seeds": [1], "n": 3000, "splits": 3, "epochs": 60, "hidden_dim": 32}
# Options passed to nmi.dimensionality when given on the command line.
RUN_OPTIONS = ("critic", "estimator", "epochs", "batch_size", "lr", "patience", "hidden_dim")


def analyse(task: dict[str, Any]) -> dict[str, Any]:
    """One analysis (k, mode, seed) in a worker: the reading as plain data.  Stops itself
    at ``task["deadline"]`` (a time.time() value), keeping what finished."""
    import torch

    torch.set_num_threads(1)
    k, mode, seed, n = task["k"], task["mode"], task["seed"], task["n"]
    out = {"k": k, "mode": mode, "seed": seed}
    deadline = task.get("deadline")
    if deadline is not None and time.time() >= deadline:
        return {**out, "status": "not started", "dimension": None}
    start = time.perf_counter()
    data = nmi.generators.latent_channels(
        n, k, task["channels"], noise=task["noise"], seed=seed, pair=mode == "interaction"
    )
    x, y = data if mode == "interaction" else (data, None)
    cancel = nmi.CancelToken()
    timer = None
    if deadline is not None:
        timer = threading.Timer(max(0.0, deadline - time.time()), cancel.cancel)
        timer.daemon = True
        timer.start()
    try:
        r = nmi.dimensionality(
            x,
            y,
            embedding_dims=task["dims"],
            splits=task["splits"],
            seed=seed,
            cancel=cancel,
            **task["options"],
        )
    finally:
        if timer is not None:
            timer.cancel()
    reading = r.reading
    return {
        **out,
        "status": "stopped" if r.sweep.stopped else "done",
        "dimension": r.dimension,
        "range": r.dimension_range,
        "per_split": list(reading.per_split),
        "plateau": plain(reading.plateau),
        "threshold": plain(reading.threshold),
        "dims": list(r.dims_done),
        "mi": [plain(m) for m in r.sweep.mi],
        "curves": [[plain(v) for v in row] for row in r.curves],
        "best_epochs": [[run.best_epoch for run in p.runs] for p in r.sweep.points],
        "flags": [f.code for f in r.flags],
        "units": r.units,
        "critic": r.settings["critic"],
        "device": str(r.sweep.device),
        "seconds": round(time.perf_counter() - start, 1),
    }


def plain(value: float) -> float | None:
    """A float for JSON: None for NaN."""
    value = float(value)
    return None if math.isnan(value) else value


def line(reading: dict[str, Any]) -> str:
    """One printed line per analysis."""
    head = f"k={reading['k']} {reading['mode']:<11} seed={reading['seed']}:"
    if reading["status"] == "not started":
        return f"{head} not started (time limit)"
    if reading["status"] == "failed":
        return f"{head} FAILED: {reading['error']}"
    curve = " ".join("nan" if m is None else f"{m:.2f}" for m in reading["mi"])
    flags = ", ".join(dict.fromkeys(reading["flags"])) or "none"
    stopped = " STOPPED at the time limit;" if reading["status"] == "stopped" else ""
    return (
        f"{head}{stopped} dimension {reading['dimension']} (splits {reading['range']}), "
        f"truth {reading['k']}; MI [{reading['units']}] by dim {reading['dims'][0]}.."
        f"{reading['dims'][-1]}: {curve}; flags: {flags} ({reading['seconds']:.0f} s, "
        f"{reading['device']})"
    )


def plan_cost(tasks: list[dict[str, Any]]) -> tuple[int, int]:
    """(runs, the most optimiser steps of all runs) of the tasks, early stopping aside."""
    runs = steps = 0
    for t in tasks:
        o = t["options"]
        train = t["n"] - math.ceil(0.1 * t["n"])  # the 90/10 split
        per_epoch = math.ceil(train / o.get("batch_size", 128))
        count = t["splits"] * len(t["dims"])
        runs += count
        steps += count * o.get("epochs", 50) * per_epoch
    return runs, steps


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small version (CPU minutes)")
    parser.add_argument("--plan", action="store_true", help="print the analyses and stop")
    parser.add_argument("--ks", type=int, nargs="+", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=None)
    parser.add_argument("--n", type=int, default=None)
    parser.add_argument("--channels", type=int, default=CHANNELS)
    parser.add_argument("--noise", type=float, default=NOISE, help="generator channel noise")
    parser.add_argument("--splits", type=int, default=None)
    parser.add_argument("--extra-dims", type=int, default=4, help="dims 1..k+EXTRA")
    parser.add_argument("--modes", nargs="+", default=["interaction", "internal"])
    parser.add_argument(
        "--only",
        nargs="+",
        default=None,
        metavar="K:MODE",
        help="run only these (k, mode) pairs of --ks x --modes, e.g. 6:internal 4:internal",
    )
    parser.add_argument("--critic", default=None, help="default: nmi.dimensionality's own")
    parser.add_argument("--estimator", default=None)
    parser.add_argument("--epochs", type=int, default=None)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--lr", type=float, default=None)
    parser.add_argument("--patience", type=int, default=None)
    parser.add_argument("--hidden-dim", type=int, default=None)
    parser.add_argument("--device", default="auto", help="auto | cpu | cuda")
    parser.add_argument("--jobs", type=int, default=1, help="analyses at once (processes)")
    parser.add_argument("--limit-s", type=float, default=None, help="stop after this long")
    parser.add_argument("--json", default=None, help="also write every reading to this file")
    args = parser.parse_args()
    start = time.time()
    plan = QUICK if args.quick else FULL
    ks = args.ks or plan["ks"]
    seeds = args.seeds if args.seeds is not None else plan["seeds"]
    n = args.n or plan["n"]
    splits = args.splits or plan["splits"]
    options: dict[str, Any] = {"device": args.device, "threads": 1}
    for key in RUN_OPTIONS:
        value = getattr(args, key) if getattr(args, key) is not None else plan.get(key)
        if value is not None:
            options[key] = value
    deadline = start + args.limit_s if args.limit_s else None
    # Largest k first: the longest analyses start first, so the workers end together.
    tasks = [
        {
            "k": k,
            "mode": mode,
            "seed": seed,
            "n": n,
            "channels": args.channels,
            "noise": args.noise,
            "splits": splits,
            "dims": list(range(1, k + args.extra_dims + 1)),
            "options": options,
            "deadline": deadline,
        }
        for k in sorted(ks, reverse=True)
        for mode in args.modes
        for seed in seeds
        if args.only is None or f"{k}:{mode}" in args.only
    ]
    if not tasks:
        parser.error(f"--only {' '.join(args.only)} names no (k, mode) pair of --ks and --modes")
    runs, steps = plan_cost(tasks)
    print(
        f"latent_channels: k in {ks}, {args.channels} channels, noise {args.noise}, N = {n}, "
        f"seeds {seeds}, modes {args.modes}; {splits} splits, dims 1..k+{args.extra_dims}; "
        f"options {options}; {len(tasks)} analyses, {runs} runs, at most {steps:,} steps "
        f"(epochs x batches, before early stopping); jobs {args.jobs}"
        + (f", limit {args.limit_s:.0f} s" if args.limit_s else ""),
        flush=True,
    )
    if args.plan:
        return
    readings: list[dict[str, Any]] = []

    def record(reading: dict[str, Any]) -> None:
        readings.append(reading)
        print(line(reading), flush=True)
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"settings": vars(args), "readings": readings}, f, indent=1)

    if args.jobs <= 1:
        for task in tasks:
            record(analyse(task))
    else:
        context = multiprocessing.get_context("spawn")
        with cf.ProcessPoolExecutor(max_workers=args.jobs, mp_context=context) as pool:
            futures = {pool.submit(analyse, task): task for task in tasks}
            for future in cf.as_completed(futures):
                task = futures[future]
                try:
                    record(future.result())
                except Exception as error:  # one failed analysis must not lose the others
                    keys = {key: task[key] for key in ("k", "mode", "seed")}
                    record({**keys, "status": "failed", "error": repr(error), "dimension": None})
    summary(readings, ks, args.modes, seeds, time.time() - start)


def summary(readings: list[dict], ks: list[int], modes: list[str], seeds: list[int], s: float):
    """Per k and mode: seeds that read exactly k, against the 4-of-5 bar."""
    print(f"--- summary ({s:.0f} s) ---")
    for k in ks:
        for mode in modes:
            mine = [r for r in readings if r["k"] == k and r["mode"] == mode]
            if not mine:
                continue
            hits = sum(r["status"] == "done" and r["dimension"] == k for r in mine)
            done = sum(r["status"] == "done" for r in mine)
            read = sorted(
                (r["seed"], r["dimension"]) for r in mine if r["status"] not in ("failed",)
            )
            bar = "meets" if hits >= 0.8 * len(seeds) else "misses"
            print(
                f"k={k} {mode}: {hits}/{len(seeds)} seeds read exactly k ({bar} the 4-of-5 "
                f"bar); {done} finished; (seed, read): {read}",
                flush=True,
            )


if __name__ == "__main__":
    main()
