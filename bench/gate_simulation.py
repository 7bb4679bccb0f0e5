"""Measure the regression gate's family-wise false-positive rate and the power formula by simulation.

    .venv/bin/python bench/gate_simulation.py [--reps 10000] [--seed 1]

Null families: K tasks x N items, baseline and candidate with the same accuracy on every task
(drawn uniformly in [0.3, 0.9]), outcomes correlated with RHO; each task is tested with the exact
McNemar test (what `evallog compare` uses for 0/1 metrics) and the family goes through
`evallog.gate.decide` with Holm, BH or no correction. Reported: P(at least one rejection) and
P(at least one "regression" flagged).

Power: at the minimum detectable difference D of `evallog power` (accuracies P + D/2 and P - D/2),
the share of simulated pairs a two-sided paired z-test (the closed form's test) and the exact
McNemar test reject at alpha = 0.05; the closed form promises 0.80.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from evallog.gate import GateRow, decide  # noqa: E402
from evallog.power import min_detectable_difference  # noqa: E402
from evallog.stats import mcnemar_exact, multinomial_variate  # noqa: E402

ALPHA = 0.05
Z = 1.959963984540054


def cells(pa: float, pb: float, rho: float) -> list[float]:
    p11 = pa * pb + rho * math.sqrt(pa * (1 - pa) * pb * (1 - pb))
    return [p11, pa - p11, pb - p11, 1 - pa - pb + p11]


def null_fwer(rng: random.Random, reps: int, k: int, n: int, rho: float) -> dict[str, float]:
    hits = {"holm": 0, "bh": 0, "none": 0}
    flagged = {"holm": 0, "bh": 0, "none": 0}
    for _ in range(reps):
        base = []
        for t in range(k):
            p = rng.uniform(0.3, 0.9)
            _, b, c, _ = multinomial_variate(rng, n, cells(p, p, rho))
            base.append(((c - b) / n, mcnemar_exact(b, c), t))
        for corr in hits:
            rows = [GateRow("c", f"t{t}", "none", "acc", None, None, est, p, None, "mcnemar-exact", True,
                            est < 0, False, True) for est, p, t in base]
            decide(rows, alpha=ALPHA, correction=corr)
            hits[corr] += any(r.p_adjusted is not None and r.p_adjusted <= ALPHA for r in rows)
            flagged[corr] += any(r.regression for r in rows)
    out = {f"any rejection, {c}": hits[c] / reps for c in hits}
    out.update({f"any regression, {c}": flagged[c] / reps for c in flagged})
    return out


def power(rng: random.Random, reps: int, n: int, p: float, rho: float) -> tuple[float, float, float]:
    d = min_detectable_difference(n, p, alpha=ALPHA, power=0.8, correlation=rho)
    probs = cells(p + d / 2, p - d / 2, rho)
    z_rej = mc_rej = 0
    for _ in range(reps):
        _, b, c, _ = multinomial_variate(rng, n, probs)
        diff = (c - b) / n
        var = (b + c) / n - diff * diff
        z_rej += var > 0 and abs(diff) / math.sqrt(var / n) > Z
        mc_rej += mcnemar_exact(b, c) <= ALPHA
    return d, z_rej / reps, mc_rej / reps


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    start = time.perf_counter()
    se = math.sqrt(ALPHA * (1 - ALPHA) / args.reps)
    print(f"null families: 10 tasks x 500 items, {args.reps} families each (MC s.e. at 0.05: {se:.4f})")
    for rho in (0.0, 0.5):
        res = null_fwer(rng, args.reps, 10, 500, rho)
        print(f"  rho={rho}: " + ", ".join(f"{k} {v:.4f}" for k, v in res.items()))
    print(f"power at the minimum detectable difference (target 0.80), {args.reps} pairs each")
    for n, p, rho in [(1000, 0.7, 0.0), (400, 0.5, 0.3), (2000, 0.85, 0.5), (300, 0.6, 0.0), (5000, 0.9, 0.7)]:
        d, pz, pm = power(rng, args.reps, n, p, rho)
        print(f"  N={n} P={p} rho={rho}: D={d:.4f}  z-test {pz:.4f}  McNemar exact {pm:.4f}")
    print(f"({time.perf_counter() - start:.1f} s)")


if __name__ == "__main__":
    main()
