"""``evallog export RUN --to FORMAT DEST``: write a run in another format.

``EXPORTERS`` maps each ``--to`` choice to a handler ``(run, dest, args) -> list of written paths``;
each exporter is a library function in :mod:`evallog.exporters` and registers here with one line.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any


def _eee(run: Any, dest: str, args: argparse.Namespace) -> list[Path]:
    from evallog.cli._progress import progress
    from evallog.exporters.eee import export_eee

    with progress(args, "exporting samples", unit="sample") as bar:
        res = export_eee(run, dest, organization=args.organization, relationship=args.relationship,
                         instances=not args.no_instances, skip_corrupt=args.skip_corrupt, progress=bar)
    for note in res.skipped:
        print(f"note: {note}", file=sys.stderr)
    return res.paths


def _hf(run: Any, dest: str, args: argparse.Namespace) -> list[Path]:
    from evallog.exporters.hf_eval_results import export_hf_eval_results

    ids = {}
    for item in args.dataset_id or []:
        task, sep, did = item.partition("=")
        if not sep:
            print(f"evallog export: error: --dataset-id wants TASK=ORG/NAME, got {item!r}", file=sys.stderr)
            raise SystemExit(2)  # a usage error
        ids[task] = did
    res = export_hf_eval_results(run, dest, dataset_ids=ids, source_url=args.source_url)
    for note in res.skipped:
        print(f"note: skipped {note}", file=sys.stderr)
    return res.files


# --to name -> handler
EXPORTERS: dict[str, Callable[[Any, str, argparse.Namespace], list[Path]]] = {
    "eee": _eee,
    "hf-eval-results": _hf,
}


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write a run in another format (Every Eval Ever, HF .eval_results, ...)",
        description="Write the run RUN into the folder DEST in another format: --to eee gives Every Eval "
        "Ever aggregate records (and per-sample instance JSONL unless --no-instances); --to "
        "hf-eval-results gives the Hugging Face .eval_results YAML. The paths written are printed.",
    )
    p.add_argument("run", metavar="RUN", help="results/samples file, model folder, or FOLDER@RUN_ID")
    p.add_argument("--to", required=True, choices=sorted(EXPORTERS), help="output format")
    p.add_argument("dest", metavar="DEST", help="destination folder")
    g = p.add_argument_group("eee")
    g.add_argument("--organization", default="unknown", help="who ran the evaluation (source_metadata)")
    g.add_argument("--relationship", default="other",
                   choices=("first_party", "third_party", "collaborative", "other"),
                   help="evaluator's relationship to the model (default other)")
    g.add_argument("--no-instances", action="store_true", help="aggregate records only, no instance JSONL")
    g = p.add_argument_group("hf-eval-results")
    g.add_argument("--dataset-id", action="append", metavar="TASK=ORG/NAME",
                   help="Hub dataset id of a task whose dataset_path is not one (repeatable)")
    g.add_argument("--source-url", help="attribute the results to this URL (e.g. the samples dataset)")
    p.add_argument("--skip-corrupt", action="store_true", help="skip corrupt sample lines instead of stopping")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from evallog.cli._runs import _load

    paths = EXPORTERS[args.to](_load(args.run), args.dest, args)
    for path in paths:
        print(path)
    if not paths:
        print("evallog export: nothing written", file=sys.stderr)
        return 1
    return 0
