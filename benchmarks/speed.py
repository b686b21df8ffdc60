"""Speed of a default rigorous analysis against the reference implementation (issue 22).

    OMP_NUM_THREADS=1 python benchmarks/speed.py                 # cases a, b, d; ~1 minute
    OMP_NUM_THREADS=1 python benchmarks/speed.py --quick         # case a only
    OMP_NUM_THREADS=1 python benchmarks/speed.py --compare float32,auto --rounds 2
    OMP_NUM_THREADS=1 python benchmarks/speed.py --gammas default 1,2,3,5,7,10 --rounds 2
    python benchmarks/speed.py --device cuda                     # the same on a GPU

Three cases generated with ``nmi.generators`` at the issue's sizes (float32 data,
default settings, seed 0, 55 runs plus the 3 shuffled-pairs controls):

    (a) correlated Gaussians, N = 5000, d = 5, 2 bits
    (b) correlated Gaussians, N = 10000, d = 20, 6 bits
    (d) nonlinear latent, 4 -> 100 dims, N = 5000, 2.5 bits

For each it prints the CPU seconds of the analysis (process time, one torch thread),
the ratio to the reference implementation's CPU seconds (NeuralMI 1.0, measured once
side by side on this machine kind: 42.6, 66.4 and 43.2 s; these are recorded figures,
not re-run here), the training samples per CPU second, and the efficiency: training
FLOP/s over the float32 FLOP/s of the workload's own batched matmul shapes measured in
this run on the same thread.  With ``--compare`` the precisions run interleaved
(A/B/A/B), so a busy machine slows both alike; ``--gammas`` does the same for sets of
gammas (``default``: the library's 1..10).  Tests never assert times.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import numpy as np
import torch

import nmi_jupyter as nmi
from nmi_jupyter.engine.config import EstimateConfig, option_names

# The reference implementation's CPU seconds for the three cases (issue 22), measured
# side by side on this machine kind with one thread; recorded, not re-run.
REFERENCE_CPU_S = {"a": 42.6, "b": 66.4, "d": 43.2}
GOAL_RATIO = 10.0
STACK = 58  # runs trained together at the start of a rigorous analysis


def cases(quick: bool) -> dict[str, tuple[str, np.ndarray, np.ndarray]]:
    g = nmi.generators
    made = {
        "a": (
            "correlated Gaussians, N=5000, d=5, 2 bits",
            g.correlated_gaussians(5000, 5, 2.0, seed=0),
        ),
        "b": (
            "correlated Gaussians, N=10000, d=20, 6 bits",
            g.correlated_gaussians(10000, 20, 6.0, seed=0),
        ),
        "d": (
            "nonlinear latent 4 -> 100, N=5000, 2.5 bits",
            g.nonlinear_latent(5000, latent_dim=4, out_dim=100, mi=2.5, seed=0),
        ),
    }
    if quick:
        made = {"a": made["a"]}
    return {
        k: (label, x.astype(np.float32), y.astype(np.float32))
        for k, (label, (x, y)) in made.items()
    }


def workload_peak(x_dim: int, y_dim: int, device: torch.device, repeats: int = 20) -> float:
    """FLOP/s of the forward pass's float32 batched matmuls at this workload's shapes
    (``STACK`` runs, default widths and batch size): the best of ``repeats``."""
    c = EstimateConfig()
    b, h, e, k = c.batch_size, c.hidden_dim, c.embedding_dim, STACK
    shapes = []
    for d in (x_dim, y_dim):
        shapes += [(b, d, h)] + [(b, h, h)] * (c.n_layers - 1) + [(b, h, e)]
    shapes.append((b, e, b))  # the score matrix
    pairs = [
        (torch.randn(k, m, n, device=device), torch.randn(k, n, p, device=device))
        for m, n, p in shapes
    ]
    flops = sum(2 * k * m * n * p for m, n, p in shapes)

    def once() -> float:
        _sync(device)
        start = time.perf_counter()
        for a1, a2 in pairs:
            torch.bmm(a1, a2)
        _sync(device)
        return time.perf_counter() - start

    once()
    return flops / min(once() for _ in range(repeats))


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


def measure(
    x: np.ndarray, y: np.ndarray, device: str, precision: str, gammas: tuple[int, ...] | None
) -> dict:
    _sync(torch.device(device))
    options = {} if gammas is None else {"gammas": gammas}
    cpu, wall = time.process_time(), time.perf_counter()
    rr = nmi.rigorous(x, y, seed=0, device=device, threads=1, precision=precision, **options)
    _sync(torch.device(device))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    samples, flops = training_work(rr, x.shape[1], y.shape[1])
    epochs = float(np.mean([r.epochs_run for r in rr.runs]))
    return {
        "cpu": cpu,
        "wall": wall,
        "samples": samples,
        "flops": flops,
        "result": rr,
        "epochs": epochs,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="case a only")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument(
        "--compare",
        default=EstimateConfig().precision,
        help="precisions to run interleaved, comma separated (default: the library's default)",
    )
    parser.add_argument(
        "--gammas",
        nargs="+",
        default=["default"],
        help="sets of gammas to run interleaved, e.g. default 1,2,3,5,7,10",
    )
    parser.add_argument("--rounds", type=int, default=1, help="rounds of the interleaved runs")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = torch.device(args.device)
    precisions = [p.strip() for p in args.compare.split(",") if p.strip()]
    gamma_sets = [
        None if g == "default" else tuple(int(v) for v in g.split(",")) for g in args.gammas
    ]
    data = cases(args.quick)
    print(f"torch {torch.__version__}, device {device}, 1 torch thread; precisions {precisions}")
    print(
        "reference: NeuralMI 1.0 CPU s measured side by side on this machine kind "
        f"(recorded, not re-run): {REFERENCE_CPU_S}"
    )
    rows = []
    for r in range(args.rounds):
        for key, (label, x, y) in data.items():
            peak = workload_peak(x.shape[1], y.shape[1], device)
            for precision, gammas in itertools.product(precisions, gamma_sets):
                m = measure(x, y, args.device, precision, gammas)
                rr = m["result"]
                which = "" if gammas is None else f", gammas {','.join(map(str, gammas))}"
                seconds = m["cpu"] if device.type == "cpu" else m["wall"]
                ratio = REFERENCE_CPU_S[key] / seconds
                eff = m["flops"] / seconds / peak
                print(
                    f"round {r} ({key}) {label}, precision {precision}{which}: "
                    f"{m['cpu']:6.2f} CPU s ({m['wall']:.2f} s wall)  "
                    f"{ratio:5.1f}x the reference (goal {GOAL_RATIO:.0f}x: "
                    f"<= {REFERENCE_CPU_S[key] / GOAL_RATIO:.2f} s)  "
                    f"{m['samples'] / seconds / 1e3:6.0f}k train samples/s  "
                    f"efficiency {eff:5.1%} of {peak / 1e9:.0f} GFLOP/s float32 at these shapes  "
                    f"{m['epochs']:.1f} epochs/run  MI {rr.mi:.3f} ± {rr.mi_error:.3f} bits",
                    flush=True,
                )
                rows.append(
                    {
                        "case": key,
                        "round": r,
                        "precision": precision,
                        "gammas": list(rr.gammas),
                        "cpu_s": m["cpu"],
                        "wall_s": m["wall"],
                        "ratio_to_reference": ratio,
                        "samples_per_s": m["samples"] / seconds,
                        "efficiency": eff,
                        "peak_flops": peak,
                        "epochs_per_run": m["epochs"],
                        "mi": rr.mi,
                        "mi_error": rr.mi_error,
                    }
                )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
