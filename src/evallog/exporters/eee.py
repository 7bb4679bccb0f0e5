"""Every Eval Ever 0.3.0: one aggregate record per task (and group) of a run, plus instance-level lines.

Layout under ``dest`` (the Every Eval Ever repository layout)::

    data/<task>/<developer>/<model>/<uuid>.json            # eval.schema.json
    data/<task>/<developer>/<model>/<uuid>_samples.jsonl   # instance_level_eval.schema.json, one line
                                                            # per (sample, metric): the schema's rule

Each ``metric,filter`` of the task is one ``evaluation_results`` item whose
``evaluation_result_id`` is ``<task>/<metric>/<filter>``; the score is the
harness's value unchanged, its ``_stderr`` (and lmms-eval's
``_stderr_clt``/``_stderr_clustered`` in ``score_details.details``) travel along.
The uuid is derived from the run and the task, so exporting twice gives the
same files. :func:`read_eee` reads the scores back.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from evallog._version import __version__
from evallog.atomic import atomic_write_bytes, atomic_writer
from evallog.encoding import decode, encode_document, encode_line
from evallog.errors import ConfigError, ReadError
from evallog.exporters import _common as common
from evallog.paths import ensure_inside, safe_task_component
from evallog.readers import Run, load_run
from evallog.schema import NON_METRIC_SAMPLE_KEYS

__all__ = ["SCHEMA_VERSION", "EeeExport", "export_eee", "read_eee"]

logger = logging.getLogger(__name__)

SCHEMA_VERSION = "0.3.0"
RELATIONSHIPS = ("first_party", "third_party", "collaborative", "other")
_SOURCE_NAMES = {"lm_eval": "lm-evaluation-harness", "lmms_eval": "lmms-eval"}


@dataclass
class EeeExport:
    """The files written: aggregate records and instance-level files, and what was left out."""

    records: list[Path] = field(default_factory=list)
    instance_files: list[Path] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)

    @property
    def paths(self) -> list[Path]:
        return [*self.records, *self.instance_files]


def _uuid(*parts: str) -> str:
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8", "surrogatepass")).digest()
    return str(uuid.UUID(bytes=digest[:16], version=4))


def _str_map(d: dict[str, Any]) -> dict[str, str]:
    return {k: v if isinstance(v, str) else json.dumps(v, ensure_ascii=False, default=str) for k, v in d.items()
            if v is not None}


def _source_data(run: Run, task: str) -> dict[str, Any]:
    cfg = (run.results.get("configs") or {}).get(task) or {}
    path = cfg.get("dataset_path")
    if common.is_hub_dataset_id(path):
        out: dict[str, Any] = {"dataset_name": cfg.get("dataset_name") or task, "source_type": "hf_dataset",
                               "hf_repo": path}
        split = cfg.get("test_split") or cfg.get("validation_split")
        if isinstance(split, str):
            out["hf_split"] = split
        return out
    details = _str_map({"dataset_path": path, "dataset_name": cfg.get("dataset_name")})
    out = {"dataset_name": task, "source_type": "other"}
    if details:
        out["additional_details"] = details
    return out


def _metric_config(run: Run, score: common.Score) -> dict[str, Any]:
    hib = run.higher_is_better(score.task, score.metric)
    bounded = score.metric in common.BOUNDED_01
    cfg: dict[str, Any] = {
        "evaluation_description": score.metric if score.filter == "none" else f"{score.metric} ({score.filter})",
        "metric_id": score.metric,
        "metric_name": score.metric,
        "lower_is_better": hib is False,
        "score_type": "continuous",
        "min_score": 0.0 if bounded else None,
        "max_score": 1.0 if bounded else None,
        "metric_parameters": {"filter": score.filter},
    }
    return cfg


def _result(run: Run, score: common.Score, source: dict[str, Any], n: int | None, when: str | None) -> dict[str, Any]:
    details: dict[str, Any] = {"score": score.value}
    uncertainty: dict[str, Any] = {}
    if score.stderr is not None:
        uncertainty["standard_error"] = {"value": score.stderr, "method": "reported by the harness"}
    if n:
        uncertainty["num_samples"] = n
    if uncertainty:
        details["uncertainty"] = uncertainty
    if score.extra:
        details["details"] = {k: repr(v) for k, v in score.extra.items()}
    out: dict[str, Any] = {
        "evaluation_result_id": f"{score.task}/{score.metric}/{score.filter}",
        "evaluation_name": score.task,
        "source_data": source,
        "metric_config": _metric_config(run, score),
        "score_details": details,
    }
    if when:
        out["evaluation_timestamp"] = when
    return out


def _model_info(run: Run, mid: str) -> dict[str, Any]:
    developer, _ = common.split_model_id(mid)
    extra = {"deployment_type": "unknown", "model_availability": "unknown"}
    cfg = run.results.get("config") or {}
    extra.update(_str_map({"model": cfg.get("model"), "model_args": cfg.get("model_args") or None}))
    info: dict[str, Any] = {"name": run.model_name or mid, "id": mid, "additional_details": extra}
    if developer:
        info["developer"] = developer
    return info


def _record(run: Run, task: str, mid: str, retrieved: str, organization: str, relationship: str) -> dict[str, Any]:
    lib, version = common.harness(run)
    when_dt = common.run_datetime(run)
    when = str(int(when_dt.timestamp())) if when_dt else None
    n = run.reported_samples(task)
    source = _source_data(run, task)
    rec: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "evaluation_id": f"{task}/{mid}/{retrieved}",
        "retrieved_timestamp": retrieved,
        "source_metadata": {
            "source_name": _SOURCE_NAMES[lib],
            "source_type": "evaluation_run",
            "source_organization_name": organization,
            "evaluator_relationship": relationship,
            "additional_details": _str_map({"run_id": run.run_id, "n_shot": run.n_shot(task),
                                            "task_version": run.version(task), "task_hash": run.task_hash(task)}),
        },
        "model_info": _model_info(run, mid),
        "eval_library": {"name": lib, "version": version,
                         "additional_details": {"exported_by": f"evallog {__version__}"}},
        "evaluation_results": [_result(run, s, source, n, when) for s in common.scores(run, task)],
    }
    if when:
        rec["evaluation_timestamp"] = when
    return rec


# ------------------------------------------------------------------ instances


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)


def _prompt(rec: dict[str, Any]) -> str:
    args = rec.get("arguments")
    if isinstance(args, dict):  # lm-eval: {"gen_args_0": {"arg_0": prompt, ...}}
        first = args.get("gen_args_0")
        if isinstance(first, dict) and "arg_0" in first:
            return _text(first["arg_0"])
    inp = rec.get("input")  # lmms-eval
    if isinstance(inp, list) and inp:
        return _text(inp[0])
    return _text(inp) if inp is not None else ""


def _outputs(rec: dict[str, Any]) -> list[str]:
    resps = rec.get("resps", rec.get("filtered_resps"))
    if isinstance(resps, list):
        return [_text(r) for r in resps]
    return [_text(resps)] if resps is not None else []


def _instance_lines(run: Run, task: str, evaluation_id: str, mid: str, metrics: set[tuple[str, str]],
                    skip_corrupt: bool) -> Iterator[dict[str, Any]]:
    for rec in run.samples(task, skip_corrupt=skip_corrupt):
        filt = rec.get("filter", "none")
        doc = rec.get("doc")
        choices = doc.get("choices") if isinstance(doc, dict) else None
        for key, value in rec.items():
            if key in NON_METRIC_SAMPLE_KEYS or (key, filt) not in metrics:
                continue
            if not isinstance(value, (int, float)):
                continue  # dict-valued scores (custom aggregations) have no instance score
            score = float(value)
            line: dict[str, Any] = {
                "schema_version": SCHEMA_VERSION,
                "evaluation_id": evaluation_id,
                "model_id": mid,
                "evaluation_name": task,
                "evaluation_result_id": f"{task}/{key}/{filt}",
                "sample_id": _text(rec.get("doc_id")),
                "sample_hash": rec.get("doc_hash") if isinstance(rec.get("doc_hash"), str) else None,
                "interaction_type": "single_turn",
                "input": {"raw": _prompt(rec), "reference": [_text(rec.get("target", ""))]},
                "output": {"raw": _outputs(rec)},
                "messages": None,
                "answer_attribution": [{"turn_idx": 0, "source": "output.raw",
                                        "extracted_value": _text(rec.get("filtered_resps", "")),
                                        "extraction_method": filt, "is_terminal": True}],
                "evaluation": {"score": score, "is_correct": score == 1.0},
                "metadata": _str_map({"filter": filt, "metric": key, "doc_id": rec.get("doc_id")}),
            }
            if isinstance(choices, list):
                line["input"]["choices"] = [_text(c) for c in choices]
            yield line


def _write_instances(path: Path, lines: Iterable[dict[str, Any]]) -> tuple[int, str]:
    sha = hashlib.sha256()
    rows = 0
    with atomic_writer(path) as fh:
        for line in lines:
            data = encode_line(line)
            sha.update(data)
            fh.write(data)
            rows += 1
    return rows, sha.hexdigest()


# ----------------------------------------------------------------------- API


def _counted(lines: Iterator[dict[str, Any]], progress: Callable[[str, int, int | None], None] | None,
             count: list[int]) -> Iterator[dict[str, Any]]:
    """``lines``, counted in ``count[0]`` (over every task), every 1000th reported to ``progress``."""
    for line in lines:
        count[0] += 1
        if progress is not None and not count[0] % 1000:
            progress("exporting samples", count[0], None)
        yield line


def export_eee(
    run: Run | str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    organization: str = "unknown",
    relationship: str = "other",
    retrieved_timestamp: str | None = None,
    instances: bool = True,
    skip_corrupt: bool = False,
    progress: Callable[[str, int, int | None], None] | None = None,
) -> EeeExport:
    """Write the run as Every Eval Ever 0.3.0 records under ``dest`` (see the module doc).

    ``organization``/``relationship`` fill ``source_metadata`` (who ran the
    evaluation and how they relate to the model: one of ``first_party``,
    ``third_party``, ``collaborative``, ``other``). ``retrieved_timestamp``
    defaults to now (Unix seconds). ``instances=False`` skips the JSONL files.
    """
    if relationship not in RELATIONSHIPS:
        raise ConfigError(f"relationship must be one of {', '.join(RELATIONSHIPS)}, got {relationship!r}")
    run = run if isinstance(run, Run) else load_run(run)
    root = Path(dest)
    retrieved = retrieved_timestamp or str(int(time.time()))
    mid = common.model_id(run)
    developer, model = common.split_model_id(mid)
    out = EeeExport()
    written = [0]  # instance lines, all tasks
    for task in common.exported_tasks(run):
        folder = root / "data" / safe_task_component(task) / safe_task_component(developer or "unknown") / \
            safe_task_component(model)
        ensure_inside(root, folder, task=task)
        rid = _uuid(run.label, str(run.path), task)
        rec = _record(run, task, mid, retrieved, organization, relationship)
        if instances and run.has_samples(task):
            metrics = {(s.metric, s.filter) for s in common.scores(run, task)}
            samples_path = folder / f"{rid}_samples.jsonl"
            lines = _instance_lines(run, task, rec["evaluation_id"], mid, metrics, skip_corrupt)
            rows, checksum = _write_instances(samples_path, _counted(lines, progress, written))
            rec["detailed_evaluation_results"] = {
                "format": "jsonl", "file_path": samples_path.relative_to(root).as_posix(),
                "hash_algorithm": "sha256", "checksum": checksum, "total_rows": rows}
            out.instance_files.append(samples_path)
        elif instances:
            out.skipped.append(f"{task}: no samples file, no instance-level records")
        path = folder / f"{rid}.json"
        atomic_write_bytes(path, encode_document(rec))
        out.records.append(path)
    return out


def read_eee(dest: str | os.PathLike[str]) -> dict[tuple[str, str, str], dict[str, Any]]:
    """The scores of every aggregate record under ``dest``: ``(task, metric, filter)`` ->
    ``{"score", "stderr", "num_samples", "details"}``."""
    out: dict[tuple[str, str, str], dict[str, Any]] = {}
    for path in sorted(Path(dest).glob("data/*/*/*/*.json")):
        try:
            rec = decode(path.read_bytes())
        except ValueError as exc:
            raise ReadError(f"not valid JSON: {exc}", path=path) from exc
        for res in rec.get("evaluation_results", []):
            task, _, rest = res["evaluation_result_id"].partition("/")
            metric, _, filt = rest.rpartition("/")
            sd = res["score_details"]
            unc = sd.get("uncertainty") or {}
            out[(task, metric, filt)] = {
                "score": sd["score"],
                "stderr": (unc.get("standard_error") or {}).get("value"),
                "num_samples": unc.get("num_samples"),
                "details": sd.get("details") or {},
            }
    return out
