"""``evallog export PATH... --to FORMAT DEST``: convert runs into another format.

``--to FORMAT DEST`` picks an exporter from :data:`EXPORTERS` (format name ->
handler); each handler receives the parsed arguments (``args.paths``,
``args.dest``, ``args.force``, ...) and returns the exit code, so a
new format is one entry in the table (and, if it needs options, a few
``add_argument`` lines in :func:`register`).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable


def _parquet(args: argparse.Namespace) -> int:
    from evallog.store import export_parquet

    report = export_parquet(args.paths, args.dest, force=args.force,
                            storage_options=_options(args.storage_option))
    for line in report.lines():
        sys.stdout.write(f"{line}\n")
    sys.stdout.write(f"{len(report.exported)} run(s) exported, {len(report.skipped)} skipped -> {args.dest}\n")
    sys.stdout.flush()
    return 0


# format name -> handler(args) -> exit code
EXPORTERS: dict[str, Callable[[argparse.Namespace], int]] = {
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


def register(subparsers: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = subparsers.add_parser(
        "export",
        help="convert runs into another format (parquet: a Hive-partitioned store for SQL and Spark)",
        description=(
            "Convert the runs found in PATH... (run folders, output folders or results files of "
            "lm-eval, lmms-eval or evallog) into DEST. --to parquet writes a Hive-partitioned "
            "Parquet store (DEST/samples/model=/task=/run=/, DEST/results/model=/run=/) that "
            "`evallog sql`, DuckDB, Spark and Polars read; DEST may be an fsspec URL (s3://, "
            "memory://). Runs exported before and unchanged since are skipped."
        ),
    )
    parser.add_argument("paths", nargs="+", metavar="PATH", help="run folder, output folder or results file")
    parser.add_argument("--to", required=True, nargs=2, metavar=("FORMAT", "DEST"),
                        help=f"output format ({', '.join(sorted(EXPORTERS))}) and destination folder or URL")
    parser.add_argument("--force", action="store_true", help="rewrite runs already exported and unchanged")
    parser.add_argument("--storage-option", action="append", metavar="KEY=VALUE",
                        help="fsspec option for a remote DEST (repeatable), e.g. endpoint_url=...")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    args.format, args.dest = args.to
    exporter = EXPORTERS.get(args.format)
    if exporter is None:
        sys.stderr.write(f"evallog export: error: unknown format {args.format!r}; "
                         f"choose one of {', '.join(sorted(EXPORTERS))}\n")
        return 2
    return exporter(args)
