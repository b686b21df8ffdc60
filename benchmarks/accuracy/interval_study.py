"""Re-score saved accuracy-suite results with a scaled model-error term (no training).

    OMP_NUM_THREADS=1 python benchmarks/accuracy/run.py --seeds 0 --save-dir acc/s0
    python benchmarks/accuracy/interval_study.py acc/s0

For c in 1 .. 0 the interval's standard error is sqrt(se_fit^2 + se_data^2 + (c se_model)^2)
(c = 1 is the engine's); prints coverage and median half-width per family, then the mean
error of three point estimates (training intercept, validation intercept, their mean).
A study script: see docs/research/showcase.md.
"""

import glob
import math
import sys

import numpy as np

sys.path.insert(0, __import__("os").path.dirname(__file__))
from cases import DEFAULT
from scipy import stats

import nmi_jupyter as nmi

truth = {c.name: (c.truth, c.family) for c in DEFAULT}
rows = []
for d in sys.argv[1:]:
    for p in sorted(glob.glob(f"{d}/*.json")):
        r = nmi.load(p)
        name = p.split("/")[-1]
        case = next(k for k in truth if name.startswith(k))
        t, fam = truth[case]
        f = r.fit
        if f is None or not math.isfinite(r.mi):
            continue
        k = 1 / math.log(2) if r.units == "nats" else 1.0
        lo, hi = r.interval
        rows.append(
            dict(
                case=case,
                fam=fam,
                mi=r.mi,
                t=t,
                se_i=f.se_intercept,
                se_d=f.se_data,
                se_m=f.se_model,
                lo=lo,
                hi=hi,
                dof=f.dof,
                cl=f.confidence_level,
                onesided=not math.isfinite(hi),
                rel=r.is_reliable,
                units=r.units,
            )
        )
print(len(rows), rows[0]["units"])


def evaluate(c, extra=0.0):
    out = {}
    for r in rows:
        if r["onesided"]:
            continue
        q = stats.t.ppf(0.5 + r["cl"] / 2, max(r["dof"], 1))
        se = math.sqrt(
            r["se_i"] ** 2 + r["se_d"] ** 2 + (c * r["se_m"]) ** 2 + (extra * max(r["t"], 0)) ** 2
        )
        hw = q * se
        cov = abs(r["mi"] - r["t"]) <= hw
        out.setdefault(r["fam"], []).append((cov, hw / r["t"] if r["t"] > 0 else np.nan))
    return out


for c in [1.0, 0.75, 0.5, 0.35, 0.25, 0.0]:
    o = evaluate(c)
    allc = [x for v in o.values() for x in v]
    hw_all = 100 * np.nanmedian([x[1] for x in allc])
    s = f"c={c:4}: all {sum(x[0] for x in allc)}/{len(allc)} hw {hw_all:.1f}% | "
    s += " ".join(
        f"{f[:5]} {sum(x[0] for x in v)}/{len(v)} {100 * np.nanmedian([x[1] for x in v]):.1f}%"
        for f, v in o.items()
    )
    print(s)
print("point estimate variants: mean |rel err| by family (MI>0), train-int / val-int / mid")
res = {}
for d in sys.argv[1:]:
    for p in sorted(glob.glob(f"{d}/*.json")):
        r = nmi.load(p)
        name = p.split("/")[-1]
        case = next(k for k in truth if name.startswith(k))
        t, fam = truth[case]
        f = r.fit
        if f is None or t <= 0 or not math.isfinite(r.mi) or not math.isfinite(f.mi_val):
            continue
        k = math.log(2) if r.units == "bits" else 1
        a, b = r.mi, f.mi_val if r.units == "bits" else f.mi_val
        res.setdefault(fam, []).append((abs(a - t) / t, abs(b - t) / t, abs((a + b) / 2 - t) / t))
for fam, v in res.items():
    v = np.array(v)
    print(f"  {fam:14} n={len(v):2}  " + "  ".join(f"{100 * x:5.1f}%" for x in v.mean(0)))
