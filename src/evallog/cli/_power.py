"""``evallog power``: the smallest accuracy difference N paired items can detect, or the N a difference needs."""

from __future__ import annotations

import argparse
import json
import sys


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "power",
        help="minimum detectable accuracy difference for N items (or N for a difference)",
        description="Two models scored 0/1 on the same N items: the smallest accuracy difference a "
        "two-sided paired test detects (variance of the paired difference 2P(1-P)(1-RHO)/N), or with "
        "--effect D the number of items needed to detect D.",
    )
    size = p.add_mutually_exclusive_group(required=True)
    size.add_argument("--n", type=int, help="number of items both models are scored on")
    size.add_argument("--effect", type=float, metavar="D", help="accuracy difference to detect (gives N)")
    p.add_argument("--baseline", type=float, required=True, metavar="P", help="baseline accuracy, in (0, 1)")
    p.add_argument("--alpha", type=float, default=0.05, help="two-sided significance level (default 0.05)")
    p.add_argument("--power", type=float, default=0.8, help="power (default 0.8)")
    p.add_argument("--correlation", type=float, default=0.0, metavar="RHO",
                   help="correlation of the two models' per-item outcomes (default 0: independent errors)")
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evallog.power import power_analysis

    res = power_analysis(args.baseline, n=args.n, effect=args.effect, alpha=args.alpha, power=args.power,
                         correlation=args.correlation)
    if args.json:
        sys.stdout.write(json.dumps(res.to_dict(), indent=2) + "\n")
        return 0
    setting = (f"baseline accuracy {res.baseline:g}, alpha {res.alpha:g} (two-sided), power {res.power:g}, "
               f"correlation {res.correlation:g}")
    if args.n is not None:
        print(f"minimum detectable difference on {res.n} items: {res.effect:.4f} "
              f"({100 * res.effect:.2f} points)\n{setting}")
    else:
        print(f"items needed to detect a difference of {res.effect:g}: {res.n}\n{setting}")
    return 0
