"""Speed of a pairwise map: all pairs as one batched plan against one nmi.estimate per pair.

    OMP_NUM_THREADS=1 nice -n 5 python benchmarks/pairwise_speed.py
    OMP_NUM_THREADS=1 python benchmarks/pairwise_speed.py --n 2000 --epochs 20 --repeats 2

Eight channels (28 pairs i < j), the same options and seed both ways (so the same
splits, initialisations and minibatch orders; stacked arithmetic rounds differently,
which can move an early stop by an epoch, so the maps agree to a few hundredths of a
bit), measured side by side in one run.  The same options include the network: each
``nmi.estimate`` gets the sizes the map trained with (``nmi.pairwise`` defaults to a
smaller critic than ``nmi.estimate``: ``engine.pairwise.PAIRWISE_NETWORK``), so the
ratio is what stacking saves, not what a smaller network saves.  Prints the CPU time
(this process, all threads) and the wall time of each way, the least over ``--repeats``
rounds (the ways alternate), their ratios, and the largest difference between the two
matrices.  CPU time is the fair measure on a shared machine; tests never assert times.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import nmi_jupyter as nmi


def channels(n: int, count: int, seed: int = 0) -> np.ndarray:
    """``count`` channels; consecutive pairs (0, 1), (2, 3), ... share a latent."""
    rng = np.random.default_rng(seed)
    out = rng.normal(size=(n, count))
    for k in range(0, count - 1, 2):
        z = rng.normal(size=n)
        out[:, k] += 2 * z
        out[:, k + 1] += 2 * z
    return out


def timed(call):
    cpu, wall = time.process_time(), time.perf_counter()
    value = call()
    return value, time.process_time() - cpu, time.perf_counter() - wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=2000)
    parser.add_argument("--channels", type=int, default=8)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--repeats", type=int, default=2, help="rounds of both ways; the least")
    args = parser.parse_args()
    x = channels(args.n, args.channels)
    options = {"epochs": args.epochs, "seed": 0, "threads": 1}
    nmi.estimate(x[:200, :1], x[:200, 1:2], epochs=1, batch_size=32, seed=0)  # warm-up
    batched = nmi.pairwise(x, **options)
    # the network the map trained (its default unless options name one), for every estimate
    network = {k: batched.settings[k] for k in ("hidden_dim", "n_layers", "embedding_dim")}

    def one_by_one() -> np.ndarray:
        m = np.full((args.channels, args.channels), np.nan)
        for i, j in batched.pairs:
            m[i, j] = m[j, i] = nmi.estimate(x[:, i], x[:, j], **options, **network).mi
        return m

    # Both ways in alternation, each round's times kept; the least of each way is the
    # measure (as timeit's), since other load on a shared machine only ever adds.
    rounds = []
    for _ in range(args.repeats):
        batched, cpu_b, wall_b = timed(lambda: nmi.pairwise(x, **options))
        single, cpu_s, wall_s = timed(one_by_one)
        rounds.append((cpu_b, wall_b, cpu_s, wall_s))
    cpu_b, wall_b, cpu_s, wall_s = np.min(rounds, axis=0)
    pairs = len(batched.pairs)
    print(f"pairwise map, {args.channels} channels ({pairs} pairs), N = {args.n}, "
          f"{args.epochs} epochs max (early stopping on), 1 thread,\n  hidden "
          f"{network['hidden_dim']} x {network['n_layers']}, embedding {network['embedding_dim']}"
          f" both ways; the least of {args.repeats} rounds:")  # fmt: skip
    print(f"  batched (nmi.pairwise):      CPU {cpu_b:7.1f} s, wall {wall_b:7.1f} s")
    print(f"  one by one (nmi.estimate):   CPU {cpu_s:7.1f} s, wall {wall_s:7.1f} s")
    print(f"  ratio: CPU {cpu_s / cpu_b:.1f}x, wall {wall_s / wall_b:.1f}x")
    each = ", ".join(f"{r[2] / r[0]:.1f}x" for r in rounds)
    print(f"  CPU ratio of each round: {each}")
    diff = np.nanmax(np.abs(batched.matrix - single))
    print(f"  largest |difference| between the two maps: {diff:.2e} bits")
    linked = [round(float(batched.matrix[k, k + 1]), 2) for k in range(0, args.channels - 1, 2)]
    print(f"  linked pairs (bits): {linked}")


if __name__ == "__main__":
    main()
