"""``evallog view [ROOT...]``: a local web app over folders of runs (needs ``evallog[view]``)."""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = subparsers.add_parser(
        "view",
        help="browse folders of runs in a local web app, live while runs are written",
        description="Serve a local web app over one or more folders of runs (lm-eval, lmms-eval, evallog): "
        "the run list, results tables, leaderboard, comparison of any two runs and a sample browser that "
        "reads samples from disk page by page. Runs being written appear and update without reload. "
        "Prints the URL first; stops on Ctrl-C. A --host that is not a loopback address gets a random "
        "token, part of the printed URL and required by every request.",
    )
    p.add_argument("roots", metavar="ROOT", nargs="*", default=["."],
                   help="folder of runs or file:// URL (default: the current folder)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=7575, help="port (default 7575; 0 picks a free one)")
    p.add_argument("--open", action="store_true", help="open the page in the default browser")
    p.add_argument("--title", help="page title")
    p.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from evallog.view import serve

    def ready(url: str) -> None:
        print(url, flush=True)
        print("serving; press Ctrl-C to stop", file=sys.stderr, flush=True)

    serve(args.roots, host=args.host, port=args.port, title=args.title, on_ready=ready, open_browser=args.open)
    return 0
