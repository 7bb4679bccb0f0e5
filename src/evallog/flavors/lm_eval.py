"""lm-evaluation-harness 0.4.13 (formats.md §4.1-4.2, §13.2).

``results_<run_id>.json`` and ``samples_<task>_<run_id>.jsonl`` in the model
folder; an ``output_path`` ending in ``.json`` is a file stem
(``out/gt_eval.json`` -> ``out/gt_eval_<run_id>.json``, samples beside it).
Run ids are ``datetime.now().isoformat()`` with ``:`` -> ``-``.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from evallog.flavors._base import Flavor, ParsedName, now
from evallog.flavors._config import ConfigTrackerBase
from evallog.flavors._transform import sanitize_list, sanitize_pair

__all__ = ["LMEvalFlavor", "LMEvalGeneralConfigTracker", "LM_EVAL"]

# lm-eval's date_id: datetime.now().isoformat() with ':' -> '-', microseconds optional
_ID = r"\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}(?:\.\d+)?"
_RESULTS = re.compile(rf"^results_(?P<run_id>{_ID})\.json$")
_SAMPLES = re.compile(rf"^samples_(?P<task>.+)_(?P<run_id>{_ID})\.jsonl$")
# an output_path ending in .json: ``<stem>_<date_id>.json``
_STEM_RESULTS = re.compile(rf"^(?P<stem>.+)_(?P<run_id>{_ID})\.json$")
_ANY_RESULTS = re.compile(r"^results_(?P<run_id>.+)\.json$")
_TIMESTAMP = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2})-(\d{2})-(\d{2})(?:\.(\d{1,6}))?")

_GEN_ARGS = [f"gen_args_{i}" for i in range(64)]
_ARG = [f"arg_{j}" for j in range(16)]


@dataclass(init=False)
class LMEvalGeneralConfigTracker(ConfigTrackerBase):
    """lm-eval's config tracker: no ``start_time``/``end_time`` fields (they are attributes only)."""

    _flavor: ClassVar[str] = "lm-eval"
    model_source: str | None = None
    model_name: str | None = None
    model_name_sanitized: str | None = None
    system_instruction: str | None = None
    system_instruction_sha: str | None = None
    fewshot_as_multiturn: bool | None = None
    chat_template: str | None = None
    chat_template_sha: str | None = None
    total_evaluation_time_seconds: str | None = None

    def __init__(self) -> None:
        ConfigTrackerBase.__init__(self)


def _arguments(arguments: Any) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for i, args in enumerate(arguments):
        gen = _GEN_ARGS[i] if i < 64 else f"gen_args_{i}"
        if type(args) is tuple and len(args) == 2:  # (context, continuation): the common shape
            out[gen] = {"arg_0": args[0], "arg_1": args[1]}
        elif len(args) <= 16:
            out[gen] = dict(zip(_ARG, args))
        else:
            out[gen] = {f"arg_{j}": value for j, value in enumerate(args)}
    return out


class LMEvalFlavor(Flavor):
    name = "lm-eval"
    default_repo_name = "lm-eval-results"
    model_name_keys = ("peft", "delta", "pretrained", "model", "path", "engine")
    config_tracker_class = LMEvalGeneralConfigTracker
    results_pattern = _RESULTS
    samples_pattern = _SAMPLES

    def results_filename(self, run_id: str) -> str:
        return f"results_{run_id}.json"

    def samples_filename(self, task: str, run_id: str) -> str:
        return f"samples_{task}_{run_id}.jsonl"

    def parse_filename(self, name: str) -> ParsedName | None:
        parsed = super().parse_filename(name)
        if parsed:
            return parsed
        m = _STEM_RESULTS.match(name)
        if m and not name.startswith("samples_"):
            return ParsedName("results", self.name, m["run_id"])
        return None

    def parse_declared(self, name: str, run_ids: Collection[str]) -> ParsedName | None:
        # lm-eval's own ids are dates; evallog lets the caller choose one (``run_id="myrun"``)
        if name.startswith("samples_") and name.endswith(".jsonl"):
            stem = name[len("samples_") : -len(".jsonl")]
            for run_id in sorted(run_ids, key=len, reverse=True):
                if stem.endswith("_" + run_id) and len(stem) > len(run_id) + 1:
                    return ParsedName("samples", self.name, run_id, stem[: -len(run_id) - 1])
            return None
        m = _ANY_RESULTS.match(name)
        if m and m["run_id"] in run_ids:
            return ParsedName("results", self.name, m["run_id"])
        return None

    def json_stem(self, output: Path) -> Path | None:
        return output if output.suffix == ".json" else None

    def results_path(self, run_dir: Path, run_id: str, stem: Path | None = None) -> Path:
        if stem is not None:
            return stem.with_name(f"{stem.stem}_{run_id}.json")
        return run_dir / self.results_filename(run_id)

    def new_run_id(self, timezone: str | None = None, offset_seconds: int = 0) -> str:
        return now(timezone, offset_seconds).replace(tzinfo=None).isoformat().replace(":", "-")

    def run_timestamp(self, run_id: str) -> datetime | None:
        m = _TIMESTAMP.match(run_id)
        if not m:
            return None
        y, mo, d, h, mi, s, frac = m.groups()
        try:
            return datetime(int(y), int(mo), int(d), int(h), int(mi), int(s), int((frac or "0").ljust(6, "0")))  # noqa: DTZ001 - run ids hold local time
        except ValueError:  # e.g. month 13
            return None

    def transform_sample(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(sample)
        if "arguments" in out:
            out["arguments"] = _arguments(out["arguments"])
        raw_resps = out.get("resps")
        if "resps" in out:
            if "filtered_resps" in out:  # take_first: the first repeat of each response
                out["resps"], out["filtered_resps"] = sanitize_pair(raw_resps, out["filtered_resps"])
            else:
                out["resps"] = sanitize_list(raw_resps)
        elif "filtered_resps" in out:
            out["filtered_resps"] = sanitize_list(out["filtered_resps"])
        if "target" in out:
            out["target"] = str(out["target"])
        # key order: lm-eval reassigns existing keys, which keeps their position
        return out

    def hash_fields(self, sample: Mapping[str, Any]) -> tuple[str, ...]:
        return (f"{sample.get('doc_hash', '')}{sample.get('prompt_hash', '')}{sample.get('target_hash', '')}",)

    def hash_piece(self, fields: tuple[str, ...], index: int) -> str:
        # sha256 over the concatenation of doc_hash + prompt_hash + target_hash
        return fields[0]

    def hash_block(self, fields: Sequence[bytes | memoryview], index: int) -> bytes:
        return b"".join(fields)

    def hash_input(self, sample: Mapping[str, Any], index: int) -> str:
        return f"{sample.get('doc_hash', '')}{sample.get('prompt_hash', '')}{sample.get('target_hash', '')}"


LM_EVAL = LMEvalFlavor()
