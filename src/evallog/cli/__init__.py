"""The ``evallog`` command: a thin layer over the public functions.

Each subcommand lives in its own module ``evallog.cli._<name>`` exposing
``register(subparsers)``; the module is imported only to build the parser,
and heavy work is imported inside the command's handler so that start-up
stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence

from evallog.errors import EvallogError

# subcommand modules, in the order `evallog --help` lists them
COMMANDS: list[str] = [
    "demo",
    "recover",
    "table",
    "runs",
    "push",
    "report",
    "run",
]


def build_parser() -> argparse.ArgumentParser:
    from evallog import __version__

    parser = argparse.ArgumentParser(
        prog="evallog",
        description="Persist, render, compare and publish LLM evaluation results.",
    )
    parser.add_argument("--version", action="version", version=f"evallog {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"evallog.cli._{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.WARNING - 10 * min(args.verbose, 2)
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        return int(args.func(args) or 0)
    except EvallogError as exc:
        print(f"evallog: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("evallog: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
