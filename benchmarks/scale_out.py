"""Rigorous analysis in-process vs on executors (2 local Dask workers, 2 local processes).

    OMP_NUM_THREADS=1 python benchmarks/scale_out.py             # about 2 minutes
    OMP_NUM_THREADS=1 python benchmarks/scale_out.py --n 20000 --dim 20 --repeat 2

Every path trains the same runs with the same seeds (the script checks that the
corrected MI is identical) and each worker uses one torch thread, like the
in-process path.  Times are wall-clock for ``nmi.rigorous`` only; starting the
cluster or the pool is timed on its own line, and the first call on a fresh pool
(workers import torch) is a warm-up that is not counted.  Ratios are in-process
time / executor time, measured side by side in one run: on a 2-core machine the
ceiling is 2x, minus the time the data take to travel and the last unit's tail.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing
import os
import platform
import time

import nmi_jupyter as nmi


def timed(call, repeat: int) -> tuple[float, object]:
    best, result = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        result = call()
        best = min(best, time.perf_counter() - start)
    return best, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=5000)
    parser.add_argument("--dim", type=int, default=5)
    parser.add_argument("--mi", type=float, default=2.0)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=1, help="best of this many calls")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()

    x, y = nmi.generators.correlated_gaussians(n=args.n, dim=args.dim, mi=args.mi, seed=0)
    options = {"seed": 0, "epochs": args.epochs, "device": "cpu", "threads": 1}
    print(
        f"nmi_jupyter {nmi.__version__}, python {platform.python_version()}, "
        f"{os.cpu_count()} cores; rigorous N={args.n}, d={args.dim}, {args.mi} bits, "
        f"epochs<={args.epochs}, {args.workers} workers x 1 thread; "
        f"load average {os.getloadavg()[0]:.2f} (other work on the machine skews the ratios)"
    )
    base, ref = timed(lambda: nmi.rigorous(x, y, **options), args.repeat)
    print(f"{'in-process (batched, 1 thread)':<40} {base:7.1f} s   MI {ref.mi:.4f} bits")

    rows = []
    try:
        import distributed
    except ImportError:
        print("dask distributed not installed: pip install -e '.[distributed]'")
    else:
        start = time.perf_counter()
        with (
            distributed.LocalCluster(
                n_workers=args.workers,
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            ) as cluster,
            distributed.Client(cluster) as client,
        ):
            print(f"{'  (Dask LocalCluster start)':<40} {time.perf_counter() - start:7.1f} s")
            nmi.rigorous(x, y, executor=client, **{**options, "epochs": 1})  # warm-up
            rows.append(
                (
                    "Dask LocalCluster",
                    *timed(lambda: nmi.rigorous(x, y, executor=client, **options), args.repeat),
                )
            )
    context = multiprocessing.get_context("spawn")
    start = time.perf_counter()
    with cf.ProcessPoolExecutor(args.workers, mp_context=context) as pool:
        nmi.rigorous(x, y, executor=pool, **{**options, "epochs": 1})  # warm-up: imports
        print(f"{'  (process pool start + warm-up)':<40} {time.perf_counter() - start:7.1f} s")
        rows.append(
            (
                "ProcessPoolExecutor (spawn)",
                *timed(lambda: nmi.rigorous(x, y, executor=pool, **options), args.repeat),
            )
        )
    for name, seconds, result in rows:
        same = "same MI" if result.mi == ref.mi else f"MI DIFFERS: {result.mi:.4f}"
        print(
            f"{name + f', {args.workers} workers':<40} {seconds:7.1f} s   "
            f"speed-up {base / seconds:4.2f}x   {same}"
        )


if __name__ == "__main__":
    main()
