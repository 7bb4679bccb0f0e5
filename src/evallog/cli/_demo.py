"""``evallog demo``: run the built-in toy evaluation and print its table."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser("demo", help="run a tiny built-in evaluation, write its files and print the table")
    p.add_argument("--output", "-o", default="demo-output", help="output folder (default: demo-output)")
    p.add_argument("--flavor", choices=["lmms-eval", "lm-eval"], default="lmms-eval", help="file layout to write")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evallog.demo import run_demo
    from evallog.table import make_table

    demo = run_demo(args.output, args.flavor)
    print(f"{demo.model} ({demo.model_args}), gen_kwargs: (None), limit: None, num_fewshot: None, batch_size: 1")
    print(make_table(demo.results))
    if "groups" in demo.results:
        print(make_table(demo.results, "groups"))
    print(f"results: {demo.results_file}")
    for _task, path in sorted(demo.sample_files.items()):
        print(f"samples: {path}")
    return 0
