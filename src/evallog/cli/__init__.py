"""The ``evallog`` command: a thin layer over the public functions.

Each subcommand lives in a module ``evallog.cli._<module>`` exposing
``register(subparsers)``; the module is imported only to build the parser,
and heavy work is imported inside the command's handler so that start-up
stays fast. :data:`COMMAND_TABLE` says which module registers each command,
the group ``evallog --help`` lists it under and its example: a new command
joins with one line there.

Exit codes, the same for every command (:data:`EXIT_CODES`):

* 0 — done, including "nothing found" (``ls`` of an empty folder, ``show
  --wrong`` with no wrong sample); a note goes to stderr;
* 1 — error: what was asked cannot be done (no such file or run, unknown
  task or metric, a corrupt file, nothing to build a leaderboard from, the
  Hub unreachable), one ``evallog: error: ...`` line on stderr; or a check
  that fails (``verify`` finds a mismatch, ``compare --fail-on-regression``
  finds a regression), reported on stdout;
* 2 — usage: the command line itself is wrong (unknown command or option,
  missing argument, invalid value); argparse prints the usage on stderr.

stdout carries only what the command produces (tables, records, what was
written or pushed); messages, warnings and progress bars go to stderr.
Ctrl-C ends with 130, the shell's convention for an interrupt.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from typing import NamedTuple

from evallog.errors import EvallogError


class Command(NamedTuple):
    name: str
    module: str  # evallog.cli._<module> registers it
    group: str
    example: str


# the commands, in the order `evallog --help` lists them within their group
COMMAND_TABLE: list[Command] = [
    Command("demo", "demo", "Start here", "evallog demo --output demo-output"),
    Command("ls", "runs", "Read runs", "evallog ls demo-output"),
    Command("table", "table", "Read runs", "evallog table demo-output/evallog__toy-large"),
    Command("show", "runs", "Read runs", "evallog show demo-output/evallog__toy-small --task demo_gen_math --wrong"),
    Command("report", "report", "Read runs", "evallog report demo-output -o report.html"),
    Command("view", "view", "Read runs", "evallog view demo-output"),
    Command("compare", "runs", "Compare",
            "evallog compare demo-output/evallog__toy-small demo-output/evallog__toy-large"),
    Command("leaderboard", "runs", "Compare", "evallog leaderboard demo-output --metric acc"),
    Command("power", "power", "Compare", "evallog power --n 500 --baseline 0.7"),
    Command("verify", "verify", "Check", "evallog verify demo-output/evallog__toy-large"),
    Command("push", "push", "Publish", "evallog push demo-output --repo ORG/evals --dry-run"),
    Command("export", "export", "Publish", "evallog export demo-output/evallog__toy-large --to eee exported"),
    Command("sql", "sql", "Read runs",
            "evallog sql \"SELECT task, model, avg(acc) AS acc FROM samples GROUP BY ALL\" demo-output"),
    Command("run", "run", "Run", "evallog run -- lm_eval --model hf ... --output_path out --log_samples"),
    Command("recover", "recover", "Maintain", "evallog recover demo-output"),
]

GROUPS: list[str] = ["Start here", "Run", "Read runs", "Compare", "Check", "Publish", "Maintain"]

# subcommand modules, imported in this order
COMMANDS: list[str] = list(dict.fromkeys(c.module for c in COMMAND_TABLE))

EXIT_CODES = {0: "done (also when nothing was found)", 1: "error, or a check that fails (verify, --fail-on-regression)",
              2: "usage: the command line is wrong"}


def _grouped_help(helps: dict[str, str]) -> str:
    """The command listing of ``evallog --help``: commands by group, each with its example."""
    by_name = {c.name: c for c in COMMAND_TABLE}
    groups = list(GROUPS) + sorted({c.group for c in COMMAND_TABLE} - set(GROUPS))
    width = max(len(n) for n in helps) + 2
    order = {c.name: i for i, c in enumerate(COMMAND_TABLE)}
    lines: list[str] = []
    for group in [*groups, "Other"]:
        names = [n for n in helps if (by_name[n].group if n in by_name else "Other") == group]
        names.sort(key=lambda n: order.get(n, len(order)))
        if not names:
            continue
        lines.append(f"{group}:")
        for name in names:
            lines.append(f"  {name:<{width}}{helps[name]}")
            if name in by_name:
                lines.append(f"  {'':<{width}}  $ {by_name[name].example}")
        lines.append("")
    lines.append("Exit codes: " + "; ".join(f"{k} {v}" for k, v in EXIT_CODES.items()) + ".")
    lines.append("Messages and progress go to stderr; `evallog COMMAND --help` describes each command.")
    return "\n".join(lines)


def build_parser() -> argparse.ArgumentParser:
    from evallog._version import __version__

    parser = argparse.ArgumentParser(
        prog="evallog",
        description="Persist, render, compare and publish LLM evaluation results.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        usage="evallog [-h] [--version] [-v] COMMAND [ARGS...]",
    )
    parser.add_argument("--version", action="version", version=f"evallog {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", help=argparse.SUPPRESS, prog="evallog")
    sub.required = True
    for module in COMMANDS:
        importlib.import_module(f"evallog.cli._{module}").register(sub)
    for sp in sub.choices.values():
        if "--quiet" not in sp._option_string_actions:
            sp.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    # argparse's flat list of commands is replaced by the grouped one
    helps = {a.dest: a.help or "" for a in sub._choices_actions}
    sub._choices_actions = []
    parser.epilog = _grouped_help(helps)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)  # a usage error exits with 2
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
    except OSError as exc:  # e.g. the output file cannot be written
        print(f"evallog: error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
