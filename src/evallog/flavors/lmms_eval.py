"""lmms-eval 0.7.3 (formats.md §4.1, §4.3, §13.3).

``<run_id>_results.json`` and ``<run_id>_samples_<task>.jsonl`` in the model
folder; run ids are ``%Y%m%d_%H%M%S`` (or any string the caller gives).
Records have no ``doc``/``arguments`` (``input`` instead) and no ``filter``:
readers infer it from the results.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar

from evallog.flavors._base import Flavor, now
from evallog.flavors._config import ConfigTrackerBase
from evallog.flavors._transform import sanitize_like, sanitize_list

__all__ = ["LMMSEvalFlavor", "GeneralConfigTracker", "LMMS_EVAL"]

# the run prefix is everything before `_results.json` / the first `_samples_`
_RESULTS = re.compile(r"^(?P<run_id>.+?)_results\.json$")
_SAMPLES = re.compile(r"^(?P<run_id>.+?)_samples_(?P<task>.+)\.jsonl$")
_TIMESTAMP = re.compile(r"^(\d{4})(\d{2})(\d{2})_(\d{2})(\d{2})(\d{2})")
LMMS_EVAL_DEFAULT_ZONE = timezone(timedelta(hours=8), "Asia/Singapore")
"""The zone of lmms-eval's run ids when its ``--timezone`` was not given (UTC+08:00 since 1982)."""


@dataclass(init=False)
class GeneralConfigTracker(ConfigTrackerBase):
    """lmms-eval's config tracker: ``asdict()`` gives its fields in its order (formats.md §1.1).

    ``start_time`` and ``end_time`` are wall-clock epoch seconds (the anchor
    writes ``perf_counter`` readings, meaningless outside the process).
    """

    _flavor: ClassVar[str] = "lmms-eval"
    model_source: str | None = None
    model_name: str | None = None
    model_name_sanitized: str | None = None
    system_instruction: str | None = None
    system_instruction_sha: str | None = None
    fewshot_as_multiturn: bool | None = None
    chat_template: str | None = None
    chat_template_sha: str | None = None
    start_time: float | None = None
    end_time: float | None = None
    total_evaluation_time_seconds: str | None = None

    def __init__(self) -> None:
        ConfigTrackerBase.__init__(self)


class LMMSEvalFlavor(Flavor):
    name = "lmms-eval"
    default_repo_name = "lmms-eval-results"
    model_name_keys = (
        "peft", "delta", "pretrained", "model", "model_version", "model_name", "model_id", "path", "engine",
    )
    config_tracker_class = GeneralConfigTracker
    results_pattern = _RESULTS
    samples_pattern = _SAMPLES

    def results_filename(self, run_id: str) -> str:
        return f"{run_id}_results.json"

    def samples_filename(self, task: str, run_id: str) -> str:
        return f"{run_id}_samples_{task}.jsonl"

    def new_run_id(self, timezone: str | None = None, offset_seconds: int = 0) -> str:
        return now(timezone, offset_seconds).strftime("%Y%m%d_%H%M%S")

    def derived_run_id(self, base_id: str, attempt: int, timezone: str | None, *, explicit: bool) -> str:
        if explicit:  # a caller's id keeps its text: suffix _2, _3, ...
            return f"{base_id}_{attempt + 1}"
        return self.new_run_id(timezone, offset_seconds=attempt)

    def run_id_zone(self) -> tzinfo | None:
        # lmms-eval writes run ids in its --timezone, Asia/Singapore unless told otherwise
        return LMMS_EVAL_DEFAULT_ZONE

    def run_timestamp(self, run_id: str) -> datetime | None:
        m = _TIMESTAMP.match(run_id)
        if not m:
            return None
        try:
            return datetime(*(int(g) for g in m.groups()))  # type: ignore[arg-type]  # noqa: DTZ001 - local time
        except ValueError:
            return None

    def transform_sample(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(sample)
        arguments = out.get("arguments")
        if arguments:
            out["input"] = arguments[0]
        raw_resps = out.get("resps")
        resps = sanitize_list(raw_resps) if "resps" in out else None
        if "filtered_resps" in out:
            filtered = sanitize_like(out["filtered_resps"], raw_resps, resps)
        else:
            filtered = None
        # flatten the per-request wrapper of single-request docs (generation tasks)
        if isinstance(resps, list) and len(resps) == 1:
            resps = resps[0]
        if isinstance(filtered, list) and len(filtered) == 1:
            filtered = filtered[0]
        if "filtered_resps" in out:
            out["filtered_resps"] = filtered
        if "resps" in out:
            if resps == filtered or (isinstance(resps, list) and len(resps) == 1 and resps[0] == filtered):
                del out["resps"]
            else:
                out["resps"] = resps
        if "target" in out:
            out["target"] = str(out["target"])
        out.pop("arguments", None)
        out.pop("doc", None)
        return out

    def hash_piece(self, fields: tuple[str, ...], index: int) -> str:
        # sha256 over the concatenation of "sample_<i>" + doc_hash
        return f"sample_{index}{fields[0]}"

    def hash_block(self, fields: Sequence[bytes | memoryview], index: int) -> bytes:
        return b"".join([b"sample_%d" % i + f for i, f in enumerate(fields, index)])

    def hash_input(self, sample: Mapping[str, Any], index: int) -> str:
        return f"sample_{index}{sample.get('doc_hash', '')}"


LMMS_EVAL = LMMSEvalFlavor()
