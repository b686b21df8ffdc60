"""Sequence encoders (embedding = mlp | cnn | gru | tcn): their speed, and a case where
the order in time matters.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/encoders.py             # both parts
    OMP_NUM_THREADS=1 python benchmarks/encoders.py --part speed
    OMP_NUM_THREADS=1 python benchmarks/encoders.py --part motif --seeds 0 1 2

1. Speed: CPU seconds (process time, one torch thread) per training epoch of one run
   on N = 5000 windows of 20 steps x 4 channels (y: one column), default sizes
   (hidden 64, 2 layers, embedding 64, batch 128).  An epoch is the cost difference
   between a run of 4 and a run of 2 epochs (early stopping off) over 2, so it holds
   the minibatch steps and the per-epoch evaluation, not the set-up or the final
   evaluation.  Ratios to mlp (the flattened window).

2. A shift-invariant motif: a latent class s in K = 4 (uniform) picks one of four
   fixed motifs (5 steps x 4 channels of +-1), written at a uniformly random place in
   a window of 20 steps of Gaussian noise (sd ``--noise``); y is one-hot s.  What
   identifies s is a shape anywhere in time, which an encoder sharing its weights
   across time (cnn, tcn, gru) reads once, while the flattened MLP must learn it at
   each of the 16 places.  Truth: I(X;S) = log K - H(S|X), with the exact posterior
   p(s|x) (the likelihood is a mean over the 16 places of Gaussian densities: only
   <x, motif at place> varies), averaged over 200 000 Monte Carlo samples (standard
   error printed).  Each encoder: one ``nmi.estimate`` per seed (default options, data
   seeded by the seed too).

Tests never assert times or accuracy of this kind; the numbers go to the README.

Measured 2026-11-30 (2 shared CPU cores, torch 2.13 CPU, one thread, nice -n 5):

    speed, CPU s/epoch (x mlp):  mlp 0.10 (1.0)  cnn 0.46 (4.6)  gru 1.07 (10.9)  tcn 0.69 (7.0)
    motif, truth 1.634 bits, MI on seeds 0 1 2 (mean, % of truth):
        mlp 0.639 0.744 0.767 (0.717, 44 %)    cnn 1.649 1.607 1.657 (1.638, 100 %)
        gru 1.542 1.578 1.597 (1.572, 96 %)    tcn 1.150 1.003 1.142 (1.099, 67 %)
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy.special import logsumexp

import nmi_jupyter as nmi

EMBEDDINGS = ("mlp", "cnn", "gru", "tcn")
N, WINDOW, CHANNELS = 5000, 20, 4
K, MOTIF = 4, 5
LOG2 = np.log(2.0)


def motifs(k: int = K) -> np.ndarray:
    """K fixed motifs (K, MOTIF, CHANNELS) of +-1 (seed 123)."""
    return np.random.default_rng(123).choice([-1.0, 1.0], size=(k, MOTIF, CHANNELS))


def motif_data(n: int, noise: float, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows x (n, WINDOW, CHANNELS), one-hot y (n, K) and the classes s (n,)."""
    rng = np.random.default_rng(seed)
    s = rng.integers(K, size=n)
    place = rng.integers(WINDOW - MOTIF + 1, size=n)
    x = noise * rng.normal(size=(n, WINDOW, CHANNELS))
    steps = place[:, None] + np.arange(MOTIF)
    x[np.arange(n)[:, None], steps] += motifs()[s]
    return x, np.eye(K)[s], s


def motif_truth(noise: float, n: int = 200_000, seed: int = 999) -> tuple[float, float]:
    """I(X;S) in bits and its Monte Carlo standard error: log K + E[log p(s|x)].

    log p(x|s) = const + logsumexp_place(<x, m_s at place> / noise^2) - log(places): every
    motif at every place has the same energy, so only the overlap differs."""
    x, _, s = motif_data(n, noise, seed)
    m = motifs()
    places = WINDOW - MOTIF + 1
    # overlap[i, k, p] = <x_i, motif k at place p>
    frames = np.lib.stride_tricks.sliding_window_view(x, MOTIF, axis=1)  # (n, places, C, MOTIF)
    overlap = np.einsum("npct,ktc->nkp", frames, m)
    log_like = logsumexp(overlap / noise**2, axis=2)  # (n, K), up to a shared constant
    log_post = log_like - logsumexp(log_like, axis=1, keepdims=True)
    per = log_post[np.arange(n), s] + np.log(K)
    assert places == overlap.shape[2]
    return float(per.mean() / LOG2), float(per.std() / np.sqrt(n) / LOG2)


def speed(epochs_long: int = 4, epochs_short: int = 2) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(N, WINDOW, CHANNELS))
    y = x[:, -5:, 0].sum(axis=1, keepdims=True) + rng.normal(size=(N, 1))
    fixed = {"patience": 100, "seed": 0, "threads": 1}
    rows = {}
    for embedding in EMBEDDINGS:  # warm-up: lazy imports, first-call set-up
        nmi.estimate(x[:1000], y[:1000], embedding=embedding, epochs=1, **fixed)
    for embedding in EMBEDDINGS:
        cost = {}
        for epochs in (epochs_short, epochs_long):
            start = time.process_time()
            nmi.estimate(x, y, embedding=embedding, epochs=epochs, **fixed)
            cost[epochs] = time.process_time() - start
        rows[embedding] = (cost[epochs_long] - cost[epochs_short]) / (epochs_long - epochs_short)
    print(
        f"\nSpeed: CPU s per epoch, one run, N={N}, window {WINDOW} x {CHANNELS} channels, 1 thread"
    )
    print(f"{'embedding':>10} {'CPU s/epoch':>12} {'x mlp':>7} {'samples/CPU s':>14}")
    for embedding, seconds in rows.items():
        ratio = seconds / rows["mlp"]
        print(f"{embedding:>10} {seconds:>12.2f} {ratio:>7.1f} {0.9 * N / seconds:>14.0f}")


def motif(seeds: list[int], noise: float, epochs: int) -> None:
    truth, se = motif_truth(noise)
    print(
        f"\nShift-invariant motif: K={K} classes, motif {MOTIF}x{CHANNELS} at a random place "
        f"in {WINDOW} steps, noise sd {noise}, N={N}; truth {truth:.3f} bits (MC se {se:.3f}), "
        f"log K = {np.log2(K):.3f}"
    )
    print(
        f"{'embedding':>10} "
        + " ".join(f"{'seed ' + str(s):>16}" for s in seeds)
        + "   mean MI   % of truth   CPU s"
    )
    for embedding in EMBEDDINGS:
        cells, mis, cpu = [], [], 0.0
        for seed in seeds:
            x, y, _ = motif_data(N, noise, seed)
            start = time.process_time()
            r = nmi.estimate(x, y, embedding=embedding, seed=seed, epochs=epochs, threads=1)
            cpu += time.process_time() - start
            mis.append(r.mi)
            cells.append(f"{r.mi:6.3f} ({r.mi_val:5.3f})")
        mean = float(np.mean(mis))
        print(
            f"{embedding:>10} "
            + " ".join(f"{c:>16}" for c in cells)
            + f"   {mean:7.3f}   {100 * mean / truth:9.0f} %   {cpu:5.0f}"
        )
    print("cells: MI on the training partition (validation MI), bits")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("speed", "motif", "all"), default="all")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--noise", type=float, default=1.2)
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.part in ("speed", "all"):
        speed()
    if args.part in ("motif", "all"):
        motif(args.seeds, args.noise, args.epochs)


if __name__ == "__main__":
    main()
