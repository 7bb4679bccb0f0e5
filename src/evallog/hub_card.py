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
them all to the schema of the first file. Results files of runs with
different task sets have different nested shapes, so the results configs
declare their ``features``: the union of the shapes of every run (a field a
run lacks is null; a column whose shapes cannot be reconciled is declared a
string and holds the JSON text). Sample files of one task keep one shape
across runs and are loaded as they are.
"""

from __future__ import annotations

import glob
import html
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from evallog.flavors import run_timestamp
from evallog.layout import parse_filename
from evallog.naming import sanitize_model_name, sanitize_task_name, split_safe

__all__ = [
    "CardConfig",
    "plan_configs",
    "parse_published_name",
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
    """Chronological key for a run id of any flavor (string order as tie-break)."""
    # run ids hold naive local times (the harnesses' rule): compared among themselves only
    return run_timestamp(run_id) or datetime.min, run_id  # noqa: DTZ901


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


PARQUET_SUFFIX = ".parquet"


def parse_published_name(name: str) -> Any:
    """:func:`~evallog.naming.parse_filename` of a published file; a samples file may also be
    published as Parquet (``<samples file stem>.parquet``, see ``HubSettings.details_format``)."""
    if name.endswith(PARQUET_SUFFIX):
        parsed = parse_filename(name[: -len(PARQUET_SUFFIX)] + ".jsonl")
        return parsed if parsed is not None and parsed.kind == "samples" and not parsed.in_progress else None
    return parse_filename(name)


def _config_prefix(model_dir: str) -> str:
    return sanitize_model_name(model_dir) if model_dir else ""


def plan_configs(paths: Iterable[str]) -> dict[str, CardConfig]:
    """Group the run files among ``paths`` into card configs (sorted by name)."""
    configs: dict[str, CardConfig] = {}
    # shallow paths first, so a model's own folder wins over a raw-name copy of the same run
    for path in sorted(set(paths), key=lambda p: (p.count("/"), p)):
        model_dir, _, name = path.rpartition("/")
        parsed = parse_published_name(name)
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
        if path.endswith(PARQUET_SUFFIX):  # details published as Parquet win over an older JSONL copy
            cfg.runs[parsed.run_id] = path
        else:
            cfg.runs.setdefault(parsed.run_id, path)
    return dict(sorted(configs.items()))


# ----------------------------------------------------- results column types
# A results file is one JSON object, loaded by ``datasets`` as one row. Its
# column types are inferred here and merged over every run of the config, so
# the declared ``features`` fit every file (a file lacking a field gets null).
#
# Types: "null", "bool", "int64", "float64", "string", ("list", T),
# ("struct", {name: T}), or CONFLICT (shapes that no Arrow type covers, e.g. a
# list in one run and a string in another). A top-level column in conflict is
# declared a string: datasets stores an object there as its JSON text.
ColType = Any
CONFLICT = "conflict"
LIST_CONFLICT = "list-conflict"
_SCALARS = ("null", "bool", "int64", "float64", "string")


_MAX_TYPE_DEPTH = 64  # deeper values are declared strings holding their JSON text


def _type_of(value: Any, depth: int = 0) -> ColType:
    if depth > _MAX_TYPE_DEPTH:
        return CONFLICT
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int64" if -(2**63) <= value < 2**63 else "string"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dict):
        return ("struct", {str(k): _type_of(v, depth + 1) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        elem: ColType = "null"
        for item in value:
            elem = _merge(elem, _type_of(item, depth + 1))
        return ("list", elem)
    return "string"


def _merge(a: ColType, b: ColType) -> ColType:
    if a == b:
        return a
    if a == "null":
        return b
    if b == "null":
        return a
    if CONFLICT in (a, b):
        return CONFLICT
    if isinstance(a, tuple) and isinstance(b, tuple):
        if a[0] != b[0]:
            return CONFLICT
        if a[0] == "list":
            elem = _merge(a[1], b[1])
            return CONFLICT if elem == CONFLICT else ("list", elem)
        fields = dict(a[1])
        for k, t in b[1].items():
            fields[k] = _merge(fields.get(k, "null"), t)
            if fields[k] == CONFLICT:
                return CONFLICT
        return ("struct", fields)
    if isinstance(a, tuple) or isinstance(b, tuple):
        return CONFLICT
    if {a, b} == {"int64", "float64"}:
        return "float64"
    return "string"  # numbers, booleans and strings all cast to a string


def infer_column_types(obj: Mapping[str, Any]) -> dict[str, ColType]:
    """Column types of a results JSON object (one row)."""
    return {str(k): _type_of(v) for k, v in obj.items()}


def merge_column_types(*schemas: Mapping[str, ColType]) -> dict[str, ColType]:
    """Union of column types; a column that is a list somewhere and conflicts is
    :data:`LIST_CONFLICT` (datasets can't turn a list into text)."""
    out: dict[str, ColType] = {}
    listy: set[str] = set()
    for schema in schemas:
        for k, t in schema.items():
            if t == LIST_CONFLICT or (isinstance(t, tuple) and t[0] == "list"):
                listy.add(k)
            prev = out.get(k, "null")
            out[k] = CONFLICT if LIST_CONFLICT in (prev, t) else _merge(prev, t)
    for k in listy:
        if _has_conflict(out[k]):
            out[k] = LIST_CONFLICT
    return out


def _feature_body(t: ColType) -> dict[str, Any]:
    """The YAML form ``datasets`` writes itself (``Features._to_yaml_list``)."""
    if isinstance(t, tuple) and t[0] == "struct":
        return {"struct": [{"name": k, **_feature_body(v)} for k, v in t[1].items()]}
    if isinstance(t, tuple):
        inner = _feature_body(t[1])
        if "dtype" in inner:
            return {"list": inner["dtype"]}
        if "struct" in inner:
            return {"list": inner["struct"]}
        return {"list": inner}
    return {"dtype": "string" if t == CONFLICT else t}


def features_from_types(types: Mapping[str, ColType]) -> list[dict[str, Any]] | None:
    """The ``features`` of a results config, or ``None`` when no declaration fits every run
    (a top-level column that is a list in one run and something else in another)."""
    if LIST_CONFLICT in types.values():
        return None
    feats: list[dict[str, Any]] = []
    for name in sorted(types):
        t = types[name]
        if t == CONFLICT or _has_conflict(t):
            feats.append({"name": name, "dtype": "string"})
        else:
            feats.append({"name": name, **_feature_body(t)})
    return feats


def _has_conflict(t: ColType) -> bool:
    if t == CONFLICT:
        return True
    if isinstance(t, tuple) and t[0] == "list":
        return _has_conflict(t[1])
    if isinstance(t, tuple):
        return any(_has_conflict(v) for v in t[1].values())
    return False


def _type_from_body(body: Any) -> ColType | None:
    if not isinstance(body, dict):
        return None
    if isinstance(body.get("dtype"), str):
        return body["dtype"] if body["dtype"] in _SCALARS else None
    if isinstance(body.get("struct"), list):
        fields = {}
        for f in body["struct"]:
            if not isinstance(f, dict) or "name" not in f:
                return None
            sub = _type_from_body(f)
            if sub is None:
                return None
            fields[str(f["name"])] = sub
        return ("struct", fields)
    if "list" in body:
        inner = body["list"]
        if isinstance(inner, str):
            sub = inner if inner in _SCALARS else None
        elif isinstance(inner, list):
            sub = _type_from_body({"struct": inner})
        else:
            sub = _type_from_body(inner)
        return None if sub is None else ("list", sub)
    return None


def types_from_features(features: Any) -> dict[str, ColType] | None:
    """Read back what :func:`features_from_types` wrote (``None`` if it is not that)."""
    if not isinstance(features, list):
        return None
    out: dict[str, ColType] = {}
    for f in features:
        if not isinstance(f, dict) or "name" not in f:
            return None
        t = _type_from_body(f)
        if t is None:
            return None
        out[str(f["name"])] = t
    return out


# --------------------------------------------------------------------- card
def _yaml_front_matter(meta: dict[str, Any]) -> str:
    import yaml  # a dependency of huggingface_hub

    return str(yaml.safe_dump(meta, sort_keys=False, allow_unicode=True, width=1000))


def _md_code(text: str) -> str:
    return "`" + text.replace("`", "'") + "`"


def _md_text(text: str) -> str:
    """Free text in the card body: no HTML (``<``, ``>``, ``&`` escaped) and no Markdown
    markup (links, emphasis, code) from task, model or run names."""
    text = html.escape(str(text), quote=False).replace("\n", " ").replace("\r", " ")
    return re.sub(r"([\\`*_{}\[\]()#+!|~])", r"\\\1", text)


def _fence(content: str) -> str:
    """A code fence longer than any run of backticks in ``content`` (CommonMark)."""
    longest = max((len(m) for m in re.findall(r"`+", content)), default=0)
    return "`" * max(3, longest + 1)


def _default_config(configs: Mapping[str, CardConfig]) -> str | None:
    """The default config: the results of the most recently run model."""
    results_cfgs = [c for c in configs.values() if c.kind == "results"]
    if not results_cfgs:
        return None
    return max(results_cfgs, key=lambda c: (run_sort_key(c.latest_run), c.name)).name


def _card_meta(configs: Mapping[str, CardConfig], pretty: str, default_cfg: str | None,
               leaderboard_url: str, point_of_contact: str) -> dict[str, Any]:
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
    return meta


def _card_intro(configs: Mapping[str, CardConfig], pretty: str, links: list[str],
                leaderboard_url: str, point_of_contact: str) -> list[str]:
    lines: list[str] = []
    lines.append(f"# {_md_text(pretty)}")
    lines.append("")
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
        lines.append(f"Leaderboard: {_md_text(leaderboard_url)}")
    if point_of_contact:
        lines.append("")
        lines.append(f"Point of contact: {_md_text(point_of_contact)}")
    lines.append("")
    return lines


def _card_loading(repo_id: str, configs: Mapping[str, CardConfig], default_cfg: str | None) -> list[str]:
    lines: list[str] = []
    lines.append("## How to load a configuration")
    lines.append("")
    example = default_cfg or (next(iter(configs)) if configs else "CONFIG")
    lines.append("```python")
    lines.append("from datasets import load_dataset")
    lines.append("")
    lines.append(f"data = load_dataset({json.dumps(repo_id)}, name={json.dumps(example)}, split=\"latest\")")
    lines.append("```")
    lines.append("")
    lines.append(
        "Use any configuration name from the table below as `name`, and `latest` or a run's split "
        "as `split`. Each `__results` configuration has one row per split (the results file of that "
        "run); its columns cover every run, so a field that a run does not have is null."
    )
    lines.append("")
    if configs:
        lines.append("| configuration | runs (splits) |")
        lines.append("|---|---|")
        for cfg in configs.values():
            splits = [d["split"] for d in cfg.data_files()]
            lines.append(f"| `{cfg.name}` | " + ", ".join(f"`{s}`" for s in splits) + " |")
        lines.append("")
    return lines


def _card_latest(repo_id: str, base: str, latest_results: tuple[str, Mapping[str, Any]]) -> list[str]:
    lines: list[str] = []
    path, data = latest_results
    url = f"{base}/datasets/{repo_id}/blob/main/{quote(path)}" if base else quote(path)
    lines.append("## Latest results")
    lines.append("")
    lines.append(f"These are the results of the latest run, from [{_md_text(path)}](<{url}>):")
    lines.append("")
    shown_results: dict[str, Any] = {}
    for key in ("results", "groups"):
        if isinstance(data.get(key), dict) and data[key]:
            shown_results[key] = data[key]
    try:
        shown_text = json.dumps(shown_results, indent=2, ensure_ascii=False, default=str)
    except (ValueError, RecursionError):  # nested too deeply (or a cycle) for the card
        shown_text = "(results nested too deeply to show here)"
    # a code block shows text as it is (no HTML, no Markdown); its fence is longer than
    # any backtick run inside, so a task name cannot close it
    fence = _fence(shown_text)
    lines.append(fence + "json")
    lines.append(shown_text)
    lines.append(fence)
    lines.append("")
    return lines


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
    default_cfg = _default_config(configs)
    meta = _card_meta(configs, pretty, default_cfg, leaderboard_url, point_of_contact)

    base = endpoint.rstrip("/")
    links = []
    for m, s in zip(models, shown):
        if model_source == "hf" and base and model_names.get(m):
            links.append(f"[{_md_text(s)}](<{base}/{quote(model_names[m], safe='/')}>)")
        else:
            links.append(_md_code(s))
    lines = _card_intro(configs, pretty, links, leaderboard_url, point_of_contact)
    lines += _card_loading(repo_id, configs, default_cfg)
    if latest_results is not None:
        lines += _card_latest(repo_id, base, latest_results)
    body = "\n".join(lines)
    return "---\n" + _yaml_front_matter(meta) + "---\n\n" + body
