"""Helpers for the end-to-end tests with the real harnesses (tests/test_run_e2e.py, bench/bench_run.py).

The harnesses live in a venv of their own, created by ``.ci/harness_venv.sh``
and named by ``EVALLOG_HARNESS_VENV``.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "harness_tasks"
SCRIPTS = Path(__file__).parent / "harness_scripts"
PLACEHOLDER = "/data/gt/lmeval_tasks/data"

# keys that legitimately differ between two runs of the same command: dates, timings,
# environment, and evallog's documented model-folder naming (a stable name instead of
# lm-eval's random id / lmms-eval's empty name when model_args names no model)
VOLATILE_KEYS = {
    "date",
    "start_time",
    "end_time",
    "total_evaluation_time_seconds",
    "pretty_env_info",
    "transformers_version",
    "lm_eval_version",
    "lmms_eval_version",
    "upper_git_hash",
    "git_hash",
    "git_branch",
    "model_name",
    "model_name_sanitized",
    "throughput",
    "efficiency",
    "usage",
}


def harness_venv() -> Path | None:
    venv = os.environ.get("EVALLOG_HARNESS_VENV")
    if venv and (Path(venv) / "bin" / "python").exists():
        return Path(venv)
    return None


def e2e_marks() -> list[Any]:
    """The marks of a module of end-to-end tests with the real harnesses (pytest imported here:
    the benches import this module too)."""
    import pytest

    return [
        pytest.mark.e2e,
        pytest.mark.skipif(
            harness_venv() is None,
            reason="EVALLOG_HARNESS_VENV is not set: the real harnesses' venv is made by .ci/harness_venv.sh (.ci/run does it)",
        ),
    ]


def harness_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", WANDB_MODE="disabled")
    env.pop("EVALLOG_RUN", None)
    # this checkout's evallog first, whatever checkout last installed itself into the shared venv
    src = str(Path(__file__).resolve().parent.parent / "src")
    env["PYTHONPATH"] = os.pathsep.join([src, *filter(None, [env.get("PYTHONPATH")])])
    return env


def copy_tasks(dest: Path) -> Path:
    """The fixture tasks, with their data paths pointing into ``dest``."""
    shutil.copytree(DATA, dest, dirs_exist_ok=True)
    data = str(dest / "lmeval_tasks" / "data")
    for yaml in dest.rglob("*.yaml"):
        yaml.write_text(yaml.read_text(encoding="utf-8").replace(PLACEHOLDER, data), encoding="utf-8")
    return dest


def make_tiny_model(venv: Path, dest: Path, tasks: Path) -> Path:
    texts = sorted(str(p) for p in (tasks / "lmeval_tasks" / "data").glob("*.jsonl"))
    subprocess.run(
        [str(venv / "bin" / "python"), str(SCRIPTS / "make_tiny_model.py"), str(dest), *texts],
        check=True,
        env=harness_env(),
        capture_output=True,
    )
    return dest


def popen(cmd: Sequence[str], cwd: Path, log: Path) -> subprocess.Popen[bytes]:
    fh = open(log, "wb")  # noqa: SIM115 - the child keeps it
    return subprocess.Popen(list(cmd), cwd=cwd, env=harness_env(), stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


def run(cmd: Sequence[str], cwd: Path, log: Path, timeout: float = 600) -> int:
    proc = popen(cmd, cwd, log)
    return proc.wait(timeout=timeout)


# --------------------------------------------------------------------------- reading and diffing
def run_files(folder: Path) -> tuple[Path, dict[str, Path]]:
    """The results file and the per-task samples files of the single (latest) run under ``folder``."""
    results = sorted(
        (p for p in folder.rglob("*.json") if ".evallog" not in p.parts and ("results" in p.name)),
        key=lambda p: p.name,
    )
    assert results, f"no results file under {folder}"
    latest = results[-1]
    if latest.name.startswith("results_"):  # lm-eval
        run_id = latest.name[len("results_") : -len(".json")]
        samples = {
            p.name[len("samples_") : -len(f"_{run_id}.jsonl")]: p
            for p in latest.parent.glob(f"samples_*_{run_id}.jsonl")
        }
    else:
        prefix = latest.name[: -len("_results.json")]
        samples = {p.name[len(f"{prefix}_samples_") : -len(".jsonl")]: p for p in latest.parent.glob(f"{prefix}_samples_*.jsonl")}
    return latest, samples


def load_run(folder: Path) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    results_path, sample_paths = run_files(folder)
    results = json.loads(results_path.read_text(encoding="utf-8"))
    samples = {
        task: [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
        for task, path in sample_paths.items()
    }
    return results, samples


def diff_values(a: Any, b: Any, path: str = "") -> Iterator[str]:
    """Every difference between two JSON values, ignoring :data:`VOLATILE_KEYS`."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if key in VOLATILE_KEYS:
                continue
            if key not in a or key not in b:
                yield f"{path}/{key}: only in {'first' if key in a else 'second'}"
                continue
            yield from diff_values(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            yield f"{path}: {len(a)} vs {len(b)} items"
            return
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from diff_values(x, y, f"{path}[{i}]")
    elif a != b and not (isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b)):
        yield f"{path}: {a!r} != {b!r}"


def diff_runs(first: Path, second: Path) -> list[str]:
    ra, sa = load_run(first)
    rb, sb = load_run(second)
    diffs = list(diff_values(ra, rb, "results"))
    diffs += list(diff_values(sa, sb, "samples"))
    return diffs
