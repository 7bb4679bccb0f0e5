"""The public surface: every exported name resolves, the import stays light, the CLI lists its commands."""

from __future__ import annotations

import subprocess
import sys

import evallog


def test_every_exported_name_resolves():
    for name in evallog.__all__:
        assert getattr(evallog, name) is not None, name


def test_signature_matches_the_anchors():
    import inspect

    params = list(inspect.signature(evallog.EvaluationTracker).parameters.values())
    positional = [(p.name, p.default) for p in params if p.kind is p.POSITIONAL_OR_KEYWORD]
    assert positional == [
        ("output_path", None), ("hub_results_org", ""), ("hub_repo_name", ""), ("details_repo_name", ""),
        ("results_repo_name", ""), ("push_results_to_hub", False), ("push_samples_to_hub", False),
        ("public_repo", False), ("token", ""), ("leaderboard_url", ""), ("point_of_contact", ""), ("gated", False),
    ]
    assert all(p.kind is p.KEYWORD_ONLY for p in params[len(positional):])
    table = inspect.signature(evallog.make_table).parameters
    assert list(table)[:3] == ["result_dict", "column", "sort_results"]


def test_core_import_is_light():
    code = (
        "import sys, evallog; from evallog import EvaluationTracker, make_table;"
        "heavy = [m for m in ('numpy', 'torch', 'datasets', 'huggingface_hub', 'pandas', 'pyarrow', 'duckdb')"
        " if m in sys.modules];"
        "print(heavy)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_cli_lists_commands():
    out = subprocess.run([sys.executable, "-m", "evallog", "--help"], capture_output=True, text=True, check=True).stdout
    for command in ("demo", "recover", "table", "push", "report", "ls", "show", "compare", "leaderboard"):
        assert command in out, command
