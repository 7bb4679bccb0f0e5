"""``evallog export PATH... --to FORMAT DEST``: write runs in another format.

``EXPORTERS`` maps each ``--to`` choice to a handler ``(args) -> exit code``
(``args.paths``, ``args.format``, ``args.dest`` and the format's options).
Per-run formats are library functions ``(run, dest, args) -> written paths``
wrapped by :func:`per_run` (each PATH is one run: a results/samples file, a
model folder or ``FOLDER@RUN_ID``); ``parquet`` takes every run under every
PATH at once. A new format is one entry in the table (plus its options in
:func:`register`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

Handler = Callable[[argparse.Namespace], int]


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


def per_run(export: Callable[[Any, str, argparse.Namespace], list[Path]]) -> Handler:
    """A handler exporting each PATH's run with ``export`` and printing the written paths."""

    def handler(args: argparse.Namespace) -> int:
        from evallog.cli._common import _load

        paths: list[Path] = []
        for spec in args.paths:
            paths += export(_load(spec), args.dest, args)
        for path in paths:
            print(path)
        if not paths:
            print("evallog export: nothing written", file=sys.stderr)
            return 1
        return 0

    return handler


def _parquet(args: argparse.Namespace) -> int:
    from evallog.store import export_parquet

    report = export_parquet(args.paths, args.dest, force=args.force,
                            storage_options=_options(args.storage_option))
    for line in report.lines():
        sys.stdout.write(f"{line}\n")
    sys.stdout.write(f"{len(report.exported)} run(s) exported, {len(report.skipped)} skipped -> {args.dest}\n")
    sys.stdout.flush()
    return 0


# --to name -> handler
EXPORTERS: dict[str, Handler] = {
    "eee": per_run(_eee),
    "hf-eval-results": per_run(_hf),
    "parquet": _parquet,
}


def _options(pairs: list[str] | None) -> dict[str, str] | None:
    from evallog.errors import ConfigError

    if not pairs:
        return None
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"--storage-option takes KEY=VALUE, got {pair!r}")
        out[key] = value
    return out


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "export",
        help="write runs in another format (parquet store, Every Eval Ever, HF .eval_results)",
        description=(
            "Write the runs of PATH... in FORMAT to DEST. parquet: every run found under each PATH "
            "(run folders, output folders or results files of lm-eval, lmms-eval or evallog) into a "
            "Hive-partitioned Parquet store (DEST/samples/model=/task=/run=/, DEST/results/model=/run=/) "
            "that `evallog sql`, DuckDB, Spark and Polars read; DEST may be an fsspec URL (s3://, "
            "memory://); runs exported before and unchanged since are skipped. eee, hf-eval-results: "
            "each PATH is one run (results/samples file, model folder, or FOLDER@RUN_ID)."
        ),
    )
    p.add_argument("paths", nargs="+", metavar="PATH", help="run folder, output folder, results file or FOLDER@RUN_ID")
    p.add_argument("--to", required=True, nargs=2, metavar=("FORMAT", "DEST"),
                   help=f"output format ({', '.join(sorted(EXPORTERS))}) and destination folder (or URL)")
    p.add_argument("--skip-corrupt", action="store_true", help="skip corrupt sample lines instead of stopping")
    g = p.add_argument_group("parquet")
    g.add_argument("--force", action="store_true", help="rewrite runs already exported and unchanged")
    g.add_argument("--storage-option", action="append", metavar="KEY=VALUE",
                   help="fsspec option for a remote DEST (repeatable), e.g. endpoint_url=...")
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
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    args.format, args.dest = args.to
    handler = EXPORTERS.get(args.format)
    if handler is None:
        print(f"evallog export: error: unknown format {args.format!r}; choose one of "
              f"{', '.join(sorted(EXPORTERS))}", file=sys.stderr)
        return 2
    return handler(args)
