"""Hugging Face ``.eval_results/*.yaml``: the files a model repo holds to show benchmark scores.

The Hub's format (Hub docs, "Evaluation Results") is a YAML list of entries::

    - dataset:
        id: cais/hle            # required: the benchmark's Hub dataset id
        task_id: default        # the task, as the benchmark's eval.yaml names it
        revision: <hash>        # optional
      value: 20.9               # required
      date: "2025-01-15T10:30:00Z"   # optional, ISO-8601
      source: {url: ..., name: ..., user: ...}   # optional; url required when given
      notes: "..."              # optional: the evaluation setup

One file is written per benchmark result (task, metric, filter): ``<task>.yaml``
when the task reports one metric, ``<task>_<metric>[_<filter>].yaml``
otherwise, each holding one entry. The value is the harness's number unchanged
(a proportion, not a percentage); ``notes`` records the metric, filter, n-shot,
stderr and harness in a ``key=value; ...`` form that :func:`read_hf_eval_results`
parses back.

The dataset id is the task config's ``dataset_path`` when it is a Hub id
(``org/name``); tasks on local data need an entry in ``dataset_ids``
(task -> Hub id), otherwise they are skipped and listed in the result.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from evallog.atomic import atomic_write_bytes
from evallog.errors import ReadError
from evallog.exporters import _common as common
from evallog.paths import ensure_inside, safe_task_component
from evallog.readers import Run, load_run

__all__ = ["EVAL_RESULTS_DIR", "HfExport", "export_hf_eval_results", "read_hf_eval_results"]

EVAL_RESULTS_DIR = ".eval_results"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


@dataclass
class HfExport:
    files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)


def _notes(run: Run, score: common.Score) -> str:
    lib, version = common.harness(run)
    parts = [f"metric={score.metric}", f"filter={score.filter}"]
    shot = run.n_shot(score.task)
    if shot is not None:
        parts.append(f"n_shot={shot}")
    if score.stderr is not None:
        parts.append(f"stderr={score.stderr!r}")
    n = run.reported_samples(score.task)
    if n is not None:
        parts.append(f"n_samples={n}")
    parts.append(f"harness={lib} {version}")
    return "; ".join(parts)


def _dataset(run: Run, task: str, dataset_ids: Mapping[str, str]) -> dict[str, Any] | None:
    cfg = (run.results.get("configs") or {}).get(task) or {}
    did = dataset_ids.get(task)
    if did is None and common.is_hub_dataset_id(cfg.get("dataset_path")):
        did = cfg["dataset_path"]
    if did is None:
        return None
    out: dict[str, Any] = {"id": did, "task_id": task}
    kwargs = cfg.get("dataset_kwargs")
    revision = kwargs.get("revision") if isinstance(kwargs, dict) else None
    if isinstance(revision, str):
        out["revision"] = revision
    return out


def _file_name(score: common.Score, single: bool) -> str:
    if single:
        stem = score.task
    else:
        stem = f"{score.task}_{score.metric}" + ("" if score.filter == "none" else f"_{score.filter}")
    return _UNSAFE.sub("_", stem).strip("._") + ".yaml"


def export_hf_eval_results(
    run: Run | str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    dataset_ids: Mapping[str, str] | None = None,
    source_url: str | None = None,
    source_name: str | None = None,
    source_user: str | None = None,
) -> HfExport:
    """Write ``dest/.eval_results/*.yaml`` for the run (``dest`` is the model repo's folder).

    ``source_url`` (and optionally ``source_name``/``source_user``) attributes
    the results, for instance to a dataset repo holding the run's samples.
    """
    run = run if isinstance(run, Run) else load_run(run)
    ids = dict(dataset_ids or {})
    root = Path(dest)
    folder = root / EVAL_RESULTS_DIR
    when = common.run_datetime(run)
    out = HfExport()
    for task in common.exported_tasks(run):
        dataset = _dataset(run, task, ids)
        if dataset is None:
            out.skipped.append(f"{task}: its dataset is not on the Hub (give a dataset id for it)")
            continue
        task_scores = common.scores(run, task)
        for score in task_scores:
            entry: dict[str, Any] = {"dataset": dataset, "value": score.value}
            if when is not None:
                entry["date"] = when.strftime("%Y-%m-%dT%H:%M:%SZ")
            if source_url:
                src = {"url": source_url, "name": source_name, "user": source_user}
                entry["source"] = {k: v for k, v in src.items() if v}
            entry["notes"] = _notes(run, score)
            path = folder / _file_name(score, len(task_scores) == 1)
            ensure_inside(root, path, task=safe_task_component(task))
            text = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True)
            atomic_write_bytes(path, text.encode("utf-8"))
            out.files.append(path)
    return out


def _parse_notes(notes: str) -> dict[str, str]:
    out = {}
    for part in notes.split("; "):
        key, sep, value = part.partition("=")
        if sep:
            out[key] = value
    return out


def read_hf_eval_results(dest: str | os.PathLike[str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """``(task, metric, filter)`` -> ``{"value", "stderr", "dataset_id", "date"}`` of the files we wrote."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted((Path(dest) / EVAL_RESULTS_DIR).glob("*.yaml")):
        try:
            entries = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ReadError(f"not valid YAML: {exc}", path=path) from exc
        for entry in entries or []:
            notes = _parse_notes(str(entry.get("notes", "")))
            key = (entry["dataset"]["task_id"], notes.get("metric", ""), notes.get("filter", "none"))
            stderr = notes.get("stderr")
            out[key] = {"value": entry["value"], "stderr": float(stderr) if stderr else None,
                        "dataset_id": entry["dataset"]["id"], "date": entry.get("date")}
    return out
