"""The dataset card of a Hub repo holding evaluation runs (formats.md §5, §13.4).

Pure functions, no network: the publisher (:mod:`evallog.hub`) gives the list
of files the repo will hold after the commit, and gets back the README text.

Layout of the card's ``configs`` (what ``datasets.load_dataset`` reads):

* ``<model_dir>__<sanitized task>``: the per-sample details of a task;
* ``<model_dir>__results``: the aggregated results;
* in each, one split per run (the run id with ``[^\\w.]`` -> ``_``) and a
  ``latest`` split pointing at the most recent run.

Both file naming schemes (lm-eval's ``results_<id>.json`` /
``samples_<task>_<id>.jsonl`` and lmms-eval's ``<id>_results.json`` /
``<id>_samples_<task>.jsonl``) are recognised, at any depth.

``datasets`` prepares every split of a config when one is loaded, and casts
them all to one schema. Results files of runs with different task sets have
different nested shapes, so the results configs declare their ``features``:
one column per top-level key, nested objects stored as JSON text (load them
with ``json.loads``). Sample files of one task keep one shape across runs and
are loaded as they are.
"""

from __future__ import annotations

import glob
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from evallog.naming import parse_filename, sanitize_model_name, sanitize_task_name, split_safe

__all__ = [
    "CardConfig",
    "plan_configs",
    "run_sort_key",
    "split_name",
    "infer_column_types",
    "merge_column_types",
    "types_from_features",
    "features_from_types",
    "render_card",
]

LATEST = "latest"
_RESERVED_SPLITS = {"latest", "all"}


# ----------------------------------------------------------------- run order
def run_sort_key(run_id: str) -> tuple[datetime, str]:
    """Chronological key for a run id of either flavor (string order as tie-break)."""
    for fmt in ("%Y-%m-%dT%H-%M-%S.%f", "%Y-%m-%dT%H-%M-%S", "%Y%m%d_%H%M%S"):
        try:
            return datetime.strptime(run_id, fmt), run_id
        except ValueError:
            pass
    m = re.match(r"(\d{8})_(\d{6})", run_id)  # lmms-eval ids with a suffix
    if m:
        try:
            return datetime.strptime(m.group(1) + m.group(2), "%Y%m%d%H%M%S"), run_id
        except ValueError:
            pass
    return datetime.min, run_id


def split_name(run_id: str) -> str:
    """A split name ``datasets`` accepts (``^\\w+(\\.\\w+)*$``) for a run id."""
    name = split_safe(run_id)
    name = re.sub(r"\.{2,}", ".", name).strip(".")
    if not name:
        name = "run"
    if name.lower() in _RESERVED_SPLITS:
        name = f"run_{name}"
    return name


# ------------------------------------------------------------------- configs
@dataclass
class CardConfig:
    """One ``configs`` entry: a model's results or a model's task."""

    name: str
    kind: str  # "results" | "samples"
    model_dir: str
    task: str | None
    runs: dict[str, str] = field(default_factory=dict)  # run id -> repo path
    features: list[dict[str, Any]] | None = None

    def ordered_runs(self) -> list[tuple[str, str]]:
        return sorted(self.runs.items(), key=lambda kv: run_sort_key(kv[0]))

    @property
    def latest_run(self) -> str:
        return self.ordered_runs()[-1][0]

    def data_files(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        used: set[str] = set()
        for run_id, path in self.ordered_runs():
            split = split_name(run_id)
            base, n = split, 2
            while split in used:
                split = f"{base}_{n}"
                n += 1
            used.add(split)
            out.append({"split": split, "path": [glob.escape(path)]})
        out.append({"split": LATEST, "path": [glob.escape(self.runs[self.latest_run])]})
        return out


def _config_prefix(model_dir: str) -> str:
    return sanitize_model_name(model_dir) if model_dir else ""


def plan_configs(paths: Iterable[str]) -> dict[str, CardConfig]:
    """Group the run files among ``paths`` into card configs (sorted by name)."""
    configs: dict[str, CardConfig] = {}
    # shallow paths first, so a model's own folder wins over a raw-name copy of the same run
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        model_dir, _, name = path.rpartition("/")
        parsed = parse_filename(name)
        if parsed is None or parsed.in_progress:
            continue
        prefix = _config_prefix(model_dir)
        if parsed.kind == "results":
            cname = f"{prefix}__results" if prefix else "results"
            task = None
        else:
            task = parsed.task or ""
            stask = sanitize_task_name(task)
            cname = f"{prefix}__{stask}" if prefix else stask
        cfg = configs.get(cname)
        if cfg is None:
            cfg = configs[cname] = CardConfig(cname, parsed.kind, model_dir, task)
        cfg.runs.setdefault(parsed.run_id, path)
    return dict(sorted(configs.items()))


# ----------------------------------------------------- results column types
# Internal type of a column: "null", "bool", "int64", "float64", "string",
# "json" (anything nested that is not an object), or ("list", <elem type>).
# Objects become "string": datasets turns a struct into its JSON text when the
# declared feature is a string.
ColType = Any


def _type_of(value: Any) -> ColType:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return "string"
    if isinstance(value, list):
        elem: ColType = "null"
        for item in value:
            elem = _merge(elem, _type_of(item))
        if isinstance(elem, tuple) or elem == "json" or any(isinstance(i, dict) for i in value):
            return "json"
        return ("list", elem)
    return "string"


def _merge(a: ColType, b: ColType) -> ColType:
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    if "json" in (a, b):
        return "json"
    if isinstance(a, tuple) and isinstance(b, tuple):
        elem = _merge(a[1], b[1])
        return "json" if isinstance(elem, tuple) or elem == "json" else ("list", elem)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return "json"
    if {a, b} == {"int64", "float64"}:
        return "float64"
    return "string"  # numbers, booleans and strings all cast to a string


def infer_column_types(obj: Mapping[str, Any]) -> dict[str, ColType]:
    """Column types of a results JSON object loaded by ``datasets`` as one row."""
    return {str(k): _type_of(v) for k, v in obj.items()}


def merge_column_types(*schemas: Mapping[str, ColType]) -> dict[str, ColType]:
    out: dict[str, ColType] = {}
    for schema in schemas:
        for k, t in schema.items():
            out[k] = _merge(out.get(k, "null"), t)
    return out


def _scalar_dtype(t: ColType) -> str:
    return "string" if t == "null" else t


def features_from_types(types: Mapping[str, ColType]) -> list[dict[str, Any]]:
    feats: list[dict[str, Any]] = []
    for name in sorted(types):
        t = types[name]
        if isinstance(t, tuple):
            feats.append({"name": name, "sequence": _scalar_dtype(t[1])})
        else:
            feats.append({"name": name, "dtype": _scalar_dtype(t)})
    return feats


def types_from_features(features: Any) -> dict[str, ColType] | None:
    """Read back what :func:`features_from_types` wrote (``None`` if not ours)."""
    if not isinstance(features, list):
        return None
    out: dict[str, ColType] = {}
    for f in features:
        if not isinstance(f, dict) or "name" not in f:
            return None
        if "sequence" in f and isinstance(f["sequence"], str):
            out[str(f["name"])] = ("list", f["sequence"])
        elif isinstance(f.get("dtype"), str):
            out[str(f["name"])] = f["dtype"]
        else:
            return None
    return out


# --------------------------------------------------------------------- card
def _yaml_front_matter(meta: dict[str, Any]) -> str:
    import yaml  # a dependency of huggingface_hub

    return yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000)


def _md_code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def render_card(
    repo_id: str,
    configs: Mapping[str, CardConfig],
    *,
    model_names: Mapping[str, str] | None = None,
    latest_results: tuple[str, Mapping[str, Any]] | None = None,
    leaderboard_url: str = "",
    point_of_contact: str = "",
    endpoint: str = "",
    model_source: str | None = None,
) -> str:
    """The full README.md text (YAML front matter + Markdown body).

    Deterministic: the same inputs give the same bytes, so an unchanged
    repo gets an unchanged card (and no commit).
    """
    model_names = dict(model_names or {})
    models = sorted({c.model_dir for c in configs.values()})
    shown = [model_names.get(m) or m or "(no model folder)" for m in models]
    if len(shown) == 1:
        pretty = f"Evaluation run of {shown[0]}"
    else:
        pretty = f"Evaluation runs of {len(shown)} models"

    # the default config: the results of the most recently run model
    default_cfg = None
    results_cfgs = [c for c in configs.values() if c.kind == "results"]
    if results_cfgs:
        default_cfg = max(results_cfgs, key=lambda c: (run_sort_key(c.latest_run), c.name)).name

    cfg_entries: list[dict[str, Any]] = []
    for cfg in configs.values():
        entry: dict[str, Any] = {"config_name": cfg.name, "data_files": cfg.data_files()}
        if cfg.features is not None:
            entry["features"] = cfg.features
        if cfg.name == default_cfg:
            entry["default"] = True
        cfg_entries.append(entry)

    meta: dict[str, Any] = {"pretty_name": pretty, "tags": ["evaluation", "evallog"]}
    if leaderboard_url:
        meta["leaderboard_url"] = leaderboard_url
    if point_of_contact:
        meta["point_of_contact"] = point_of_contact
    meta["configs"] = cfg_entries

    base = endpoint.rstrip("/")
    lines: list[str] = []
    lines.append(f"# {pretty}")
    lines.append("")
    links = []
    for m, s in zip(models, shown):
        if model_source == "hf" and base and model_names.get(m):
            links.append(f"[{s}]({base}/{model_names[m]})")
        else:
            links.append(_md_code(s))
    lines.append(
        "This dataset was created automatically by evallog from the evaluation runs of "
        + ", ".join(links) + "."
    )
    lines.append("")
    n_res = sum(1 for c in configs.values() if c.kind == "results")
    n_smp = len(configs) - n_res
    lines.append(
        f"It holds {len(configs)} configuration(s): {n_smp} with the per-sample details of a task "
        f"(`<model>__<task>`) and {n_res} with the aggregated results of a model (`<model>__results`). "
        "Every configuration has one split per run, named after the run id, and a `latest` split "
        "that points at the most recent run."
    )
    if leaderboard_url:
        lines.append("")
        lines.append(f"Leaderboard: {leaderboard_url}")
    if point_of_contact:
        lines.append("")
        lines.append(f"Point of contact: {point_of_contact}")
    lines.append("")
    lines.append("## How to load a configuration")
    lines.append("")
    example = default_cfg or (next(iter(configs)) if configs else "CONFIG")
    lines.append("```python")
    lines.append("from datasets import load_dataset")
    lines.append("")
    lines.append(f'data = load_dataset("{repo_id}", name="{example}", split="latest")')
    lines.append("```")
    lines.append("")
    lines.append(
        "Use any configuration name from the table below as `name`, and `latest` or a run's split "
        "as `split`. In the `__results` configurations nested fields (`results`, `configs`, ...) "
        "are stored as JSON text: read them with `json.loads(data[0][\"results\"])`."
    )
    lines.append("")
    if configs:
        lines.append("| configuration | runs (splits) |")
        lines.append("|---|---|")
        for cfg in configs.values():
            splits = [d["split"] for d in cfg.data_files()]
            lines.append(f"| `{cfg.name}` | " + ", ".join(f"`{s}`" for s in splits) + " |")
        lines.append("")
    if latest_results is not None:
        path, data = latest_results
        url = f"{base}/datasets/{repo_id}/blob/main/{path}" if base else path
        lines.append("## Latest results")
        lines.append("")
        lines.append(f"These are the results of the latest run, from [{path}]({url}):")
        lines.append("")
        shown_results: dict[str, Any] = {}
        for key in ("results", "groups"):
            if isinstance(data.get(key), dict) and data[key]:
                shown_results[key] = data[key]
        lines.append("```json")
        lines.append(json.dumps(shown_results, indent=2, ensure_ascii=False, default=str))
        lines.append("```")
        lines.append("")
    body = "\n".join(lines)
    return "---\n" + _yaml_front_matter(meta) + "---\n\n" + body
