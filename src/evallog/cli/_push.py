"""``evallog push PATH --repo ORG/NAME``: publish existing runs to the Hugging Face Hub.

PATH is a run folder written by evallog, lm-eval or lmms-eval (a model folder,
an output folder holding model folders, or one results file). Each run found
is pushed in one commit per repo: its results file, its sample files and the
regenerated dataset card. Runs already on the Hub unchanged make no commit.

Repo names are used exactly as given (no ``-private`` suffix). The token comes
from ``HF_TOKEN`` or the saved login (``hf auth login``); ``HF_ENDPOINT`` is
honoured.
"""

from __future__ import annotations

import argparse
import sys


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "push",
        help="publish run folders to the Hugging Face Hub (one commit per run and repo)",
        description=(
            "Publish the runs in PATH (written by evallog, lm-eval or lmms-eval) to Hugging Face "
            "dataset repos: one commit per run and repo with the results file, the sample files "
            "and a regenerated dataset card. Repos are created private unless --public. "
            "The token is read from HF_TOKEN or the saved login; HF_ENDPOINT is honoured."
        ),
    )
    parser.add_argument("path", metavar="PATH", help="run folder, output folder or results file")
    parser.add_argument("--repo", required=True, metavar="ORG/NAME",
                        help="dataset repo for the results (and the samples unless --details-repo)")
    parser.add_argument("--details-repo", metavar="ORG/NAME", help="dataset repo for the sample files")
    parser.add_argument("--run", metavar="RUN_ID", action="append",
                        help="push only this run id (repeatable; default: every run found)")
    parser.add_argument("--public", action="store_true", help="create missing repos public (default: private)")
    parser.add_argument("--gated", action="store_true",
                        help="gate the details repo (access requests approved automatically)")
    parser.add_argument("--leaderboard-url", default="", help="leaderboard link for the dataset card")
    parser.add_argument("--point-of-contact", default="", help="contact for the dataset card")
    parser.add_argument("--format", dest="details_format", choices=["jsonl", "parquet"], default="jsonl",
                        help="how sample files are published: as written (jsonl, default) or as Parquet "
                             "(typed columns + the original line; needs evallog[parquet])")
    parser.add_argument("--dry-run", action="store_true",
                        help="print the planned operations and send nothing")
    parser.set_defaults(func=handler)


def handler(args: argparse.Namespace) -> int:
    from evallog.errors import ConfigError
    from evallog.hub import find_local_runs, push_run, settings_for_repos

    runs = find_local_runs(args.path)
    if args.run:
        wanted = set(args.run)
        runs = [r for r in runs if r.run_id in wanted]
        missing = wanted - {r.run_id for r in runs}
        if missing:
            raise ConfigError(f"no run with id {', '.join(sorted(missing))} in this folder", path=args.path)
    if not runs:
        raise ConfigError("no results or samples files of a run found", path=args.path)

    settings = settings_for_repos(
        args.repo,
        details_repo=args.details_repo,
        public=args.public,
        gated=args.gated,
        leaderboard_url=args.leaderboard_url,
        point_of_contact=args.point_of_contact,
        check=not args.dry_run,
        details_format=args.details_format,
    )
    out = sys.stdout
    if args.dry_run:
        out.write("dry run: nothing is sent\n")
    for run in runs:
        n_samples = len(run.sample_files)
        out.write(f"run {run.run_id} of {run.model_name} ({run.folder}): "
                  f"{'1 results file' if run.results_file else 'no results file'}, "
                  f"{n_samples} sample file{'s' if n_samples != 1 else ''} -> folder {run.model_dir_name}/\n")
        report = push_run(
            settings,
            model_name=run.model_name,
            model_dir_name=run.model_dir_name,
            results_file=run.results_file,
            sample_files=run.sample_files,
            flavor=run.flavor,
            model_source=run.model_source,
            dry_run=args.dry_run,
        )
        for line in report.lines():
            out.write(f"  {line}\n")
    out.flush()
    return 0
