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


def _readme_api_names() -> list[str]:
    import re
    from pathlib import Path

    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n## API\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(r"^- `([A-Za-z_][A-Za-z0-9_]*)` — ", section, re.M)


def test_public_api_is_the_readme_api_section_and_documented():
    import inspect

    documented = _readme_api_names()
    assert len(documented) == len(set(documented))
    assert sorted(evallog.__all__) == sorted(documented)
    for name in evallog.__all__:
        obj = getattr(evallog, name)
        if name == "__version__":
            assert isinstance(obj, str) and obj
            continue
        assert obj.__doc__ and obj.__doc__.strip(), f"{name} has no docstring"
        assert not inspect.isclass(obj) or "__doc__" in vars(obj), f"{name}'s docstring is inherited"


def test_structure_sizes_cycles_and_init_imports():
    """No module over 600 lines, no function over 60, no import cycle, no import of the package __init__."""
    import importlib.util
    from pathlib import Path

    path = Path(__file__).resolve().parent.parent / "tools" / "check_structure.py"
    spec = importlib.util.spec_from_file_location("check_structure", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.problems() == []
