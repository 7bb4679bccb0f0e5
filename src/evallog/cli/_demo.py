"""``evallog demo``: evaluate three built-in toy models and print their tables."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "demo",
        help="evaluate three toy models on tiny built-in tasks, write their runs and print the tables",
        description="Evaluate three toy models of different skill (small, medium, large) on four tiny "
        "built-in tasks (multiple choice, generation with two filters, a group), with no download: "
        "one run per model folder under --output, written through the tracker exactly as the chosen "
        "harness would, then print each results table and the commands to try next.",
    )
    p.add_argument("--output", "-o", default="demo-output", help="output folder (default: demo-output)")
    p.add_argument("--flavor", choices=["lmms-eval", "lm-eval"], default="lmms-eval",
                   help="file layout to write: lmms-eval's (default) or lm-eval's")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the toy models' answers (default 0: the same numbers every time)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evallog.demo import run_demo
    from evallog.table import make_table

    demos = run_demo(args.output, args.flavor, seed=args.seed)
    for demo in demos:
        print(f"{demo.model} ({demo.model_args}), gen_kwargs: (None), limit: None, num_fewshot: None, "
              "batch_size: 1")
        print(make_table(demo.results))
        if "groups" in demo.results:
            print(make_table(demo.results, "groups"))
    print(f"Wrote {len(demos)} runs under {args.output}/, one folder per model:")
    for demo in demos:
        print(f"  {demo.output_dir}  ({len(demo.sample_files)} samples files)")
    small, large = demos[0].output_dir, demos[-1].output_dir
    print("\nNext, try:")
    for what, cmd in (
        ("the models side by side", f"evallog leaderboard {args.output}"),
        ("differences, p-values, flipped samples", f"evallog compare {small} {large}"),
        ("one HTML page to explore everything", f"evallog report {args.output} -o report.html"),
    ):
        print(f"  # {what}\n  {cmd}")
    return 0
