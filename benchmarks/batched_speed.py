"""Speed of a rigorous analysis: batched trainer against one run at a time.

    OMP_NUM_THREADS=1 python benchmarks/batched_speed.py            # both sizes, about 5 minutes
    OMP_NUM_THREADS=1 python benchmarks/batched_speed.py --quick    # N = 5000, d = 5 only

For rigorous mode with default settings (gammas 1..10, 55 runs) at (N = 5000,
d = 5) and (N = 10000, d = 20), with early stopping on (default) and off (a fixed
50 epochs, for a like-for-like comparison), it prints wall time, training samples
per second, the batched/sequential speed-up, and the efficiency: achieved
training FLOP/s divided by a large float32 matmul's FLOP/s measured in this run
on the same threads.  Also the corrected MI of both paths, and the peak memory
of the batched path at N = 10000, d = 20 (measured in a fresh subprocess).
All numbers are measured side by side in one run; tests never assert times.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

import torch

import nmi_jupyter as nmi
from nmi_jupyter.engine.config import EstimateConfig, option_names


def matmul_flops(threads: int, size: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of a large float32 matmul on ``threads`` threads (best of ``repeats``)."""
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a, b = torch.randn(size, size), torch.randn(size, size)
        a @ b
        best = float("inf")
        for _ in range(repeats):
            start = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - start)
        return 2 * size**3 / best
    finally:
        torch.set_num_threads(previous)


def training_work(rr: nmi.RigorousResult, x_dim: int, y_dim: int) -> tuple[int, float]:
    """(training samples processed, training FLOPs) of a finished analysis: the matmuls of
    the two MLPs and the score matrix, forward and backward (3x forward)."""
    c = EstimateConfig(**{k: v for k, v in rr.settings.items() if k in option_names()})
    h, e, b = c.hidden_dim, c.embedding_dim, c.batch_size
    per_sample_forward = 0
    for d in (x_dim, y_dim):
        per_sample_forward += 2 * (d * h + (c.n_layers - 1) * h * h + h * e)
    per_sample_forward += 2 * b * e
    samples = 0
    for run in rr.runs + rr.controls:  # the shuffled-pairs control is training too
        n_val = max(round(run.n_samples * c.val_fraction), 1)
        samples += run.epochs_run * ((run.n_samples - n_val) // b) * b
    return samples, 3.0 * per_sample_forward * samples


def measure(x, y, batched: bool, fixed: bool, threads: int) -> dict:
    options = {"seed": 0, "device": "cpu", "batched": batched, "threads": threads}
    if fixed:
        options["patience"] = 50  # with epochs = 50: never stops early
    start = time.perf_counter()
    rr = nmi.rigorous(x, y, **options)
    wall = time.perf_counter() - start
    samples, flops = training_work(rr, x.shape[1], y.shape[1])
    return {"wall": wall, "samples": samples, "flops": flops, "result": rr, "threads": rr.threads}


def peak_memory(n: int, d: int) -> tuple[float, float]:
    """(MiB added above the starting resident memory, MiB peak resident memory) of a
    fresh process while it runs the batched analysis; RSS is sampled every 5 ms."""
    code = f"""
import os, threading, time
import nmi_jupyter as nmi
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
x, y = nmi.generators.correlated_gaussians(n={n}, dim={d}, mi=2.0, seed=0)
base = rss()
peak = [base]
done = threading.Event()
def poll():
    while not done.is_set():
        peak[0] = max(peak[0], rss())
        time.sleep(0.005)
sampler = threading.Thread(target=poll, daemon=True)
sampler.start()
nmi.rigorous(x, y, seed=0, device="cpu")
done.set()
sampler.join()
print((peak[0] - base) / 2**20, peak[0] / 2**20)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    added, total = map(float, out.stdout.split())
    return added, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="only N = 5000, d = 5")
    parser.add_argument("--json", help="also write the numbers to this file")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads for both paths (default 1, the library default)",
    )
    args = parser.parse_args()
    sizes = [(5000, 5)] if args.quick else [(5000, 5), (10000, 20)]
    peak = {t: matmul_flops(t) for t in sorted({1, args.threads})}
    print(f"torch {torch.__version__}; torch threads for both paths: {args.threads}")
    for t, f in peak.items():
        print(f"large float32 matmul on {t} thread(s): {f / 1e9:.1f} GFLOP/s")
    report = []
    for n, d in sizes:
        x, y = nmi.generators.correlated_gaussians(n=n, dim=d, mi=2.0, seed=0)
        for fixed in (True, False):
            label = "fixed 50 epochs" if fixed else "early stopping"
            rows = {b: measure(x, y, b, fixed, args.threads) for b in (True, False)}
            print(f"\nrigorous, N={n}, d={d}, {label}:")
            for b, m in rows.items():
                rr = m["result"]
                eff = m["flops"] / m["wall"] / peak[m["threads"]]
                print(
                    f"  {'batched   ' if b else 'sequential'}: {m['wall']:6.1f} s  "
                    f"{m['samples'] / m['wall']:9.0f} train samples/s  "
                    f"{m['flops'] / m['wall'] / 1e9:5.1f} GFLOP/s  efficiency {eff:5.1%}  "
                    f"MI {rr.mi:.3f} ± {rr.mi_error:.3f} bits"
                )
                report.append(
                    {
                        "n": n,
                        "d": d,
                        "fixed": fixed,
                        "batched": b,
                        "wall": m["wall"],
                        "samples_per_s": m["samples"] / m["wall"],
                        "efficiency": eff,
                        "mi": rr.mi,
                        "mi_error": rr.mi_error,
                    }
                )
            b, s = rows[True]["result"], rows[False]["result"]
            agree = abs(b.mi - s.mi) <= b.mi_error + s.mi_error
            print(
                f"  speed-up batched/sequential: {rows[False]['wall'] / rows[True]['wall']:.2f}x;"
                f" corrected MI agree within error bars: {agree}"
            )
    if not args.quick:
        added, total = peak_memory(10000, 20)
        print(
            f"\npeak memory, batched, N=10000, d=20: +{added:.0f} MiB during the analysis "
            f"({total:.0f} MiB process peak)"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
