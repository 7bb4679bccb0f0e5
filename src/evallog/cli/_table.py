"""``evallog table PATH``: print the results table of a run.

PATH is a results JSON of either framework, or a folder holding results files
(the newest run is used; its sub-folders are searched when the folder itself
has none, so a harness's ``--output_path`` works too).
"""

from __future__ import annotations

import argparse
import os
import sys

from evallog.render import FORMATS


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "table",
        help="print the results table of a results file or run folder",
        description=(
            "Print the results table (and the groups table when the run has groups) "
            "of a results JSON written by lm-eval, lmms-eval or evallog, or of the newest "
            "results file in a folder."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="results JSON file or run folder")
    parser.add_argument("--groups", action="store_true", help="print only the groups table")
    parser.add_argument("--sort", action="store_true", help="sort rows by task name instead of group hierarchy")
    parser.add_argument("--fmt", choices=FORMATS, default="markdown", help="output format (default: markdown)")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from evallog.table import make_table

    path = find_results_file(args.path)
    results = load_json(path)
    if not isinstance(results, dict) or "results" not in results:
        from evallog.errors import ReadError

        raise ReadError("not a results file: it has no 'results' section", path=path)

    if args.groups:
        if "groups" not in results:
            from evallog.errors import ReadError

            raise ReadError("the results have no groups", path=path)
        columns = ["groups"]
    elif args.fmt in ("csv", "json"):
        columns = ["results"]  # one machine-readable document per call
    else:
        columns = ["results", "groups"] if "groups" in results else ["results"]

    tables = [make_table(results, column, sort_results=args.sort, fmt=args.fmt) for column in columns]
    sys.stdout.write("\n".join(tables))
    sys.stdout.flush()
    return 0


def find_results_file(path: str) -> str:
    """``path`` itself if it is a file, else the newest results file in the folder (or one level down)."""
    from evallog.errors import ReadError
    from evallog.layout import latest_results_file

    if os.path.isfile(path):
        return path
    if not os.path.isdir(path):
        raise ReadError("no such file or folder", path=path)
    found = latest_results_file(path)
    if found is None:
        raise ReadError("no results file in this folder", path=path)
    return str(found)


def load_json(path: str) -> object:
    """Read a JSON file; the anchors' ``NaN``/``Infinity`` tokens are accepted."""
    from evallog.encoding import decode
    from evallog.errors import ReadError

    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise ReadError(f"cannot read the file: {exc.strerror or exc}", path=path) from exc
    try:
        return decode(data)
    except ValueError as exc:
        raise ReadError(f"not valid JSON: {exc}", path=path) from exc
