"""Seeded, deterministic generator of realistic per-sample records for the save benchmark.

The records have the shape each framework hands to its tracker (formats.md §7.5), per flavor:

* ``lm-eval``: ``doc_id, doc, target, arguments`` (list of request-argument tuples),
  ``resps`` (per request a list of repeats), ``filtered_resps``, ``filter``, ``metrics``,
  ``doc_hash, prompt_hash, target_hash``, then the metric values.  Multimodal docs keep the
  raw image bytes (``{"image": {"bytes": b"...", "path": ...}}``), as they reach lm-eval's tracker
  with a text-only model.
* ``lmms-eval``: ``doc_id, doc`` (multimodal values already removed), ``target``, ``arguments``
  (one flat list of the JSON-able argument values of all requests), ``resps``,
  ``filtered_resps``, ``token_counts``, ``doc_hash``, optional ``input_media`` (``data:`` URI
  with the base64 of the image bytes), then metric values (dicts for the multimodal tasks).  No
  ``filter`` key.

Both: multiple-choice tasks with loglikelihood ``(float, bool)`` responses, generation tasks
with 2-4 KB outputs, a few multimodal tasks whose docs hold 10-50 KB of image bytes, and numpy
metric values (``np.float64``, ``np.float32``, ``np.int64``, ``np.bool_``).

Everything is derived from ``random.Random`` seeded with ``(seed, task)``, so the batch form
(:func:`make_samples`) and the lazy form (:func:`iter_samples`) give identical records, and two
runs with the same seed give identical files.  Only numpy is needed (the anchors need it too).
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

FLAVORS = ("lm-eval", "lmms-eval")

# (name, kind, n_choices, filters, weight).  kind: mc | gen | mm.
# Weights: the four multimodal tasks are smaller, so ~6 % of the records carry an image.
_TASKS: tuple[tuple[str, str, int, tuple[str, ...], float], ...] = (
    ("arc_easy", "mc", 4, ("none",), 1.0),
    ("arc_challenge", "mc", 4, ("none",), 1.0),
    ("hellaswag", "mc", 4, ("none",), 1.0),
    ("piqa", "mc", 2, ("none",), 1.0),
    ("winogrande", "mc", 2, ("none",), 1.0),
    ("boolq", "mc", 2, ("none",), 1.0),
    ("openbookqa", "mc", 4, ("none",), 1.0),
    ("mmlu_stem", "mc", 4, ("none",), 1.0),
    ("mmlu_humanities", "mc", 4, ("none",), 1.0),
    ("mmlu_social_sciences", "mc", 4, ("none",), 1.0),
    ("mmlu_other", "mc", 4, ("none",), 1.0),
    ("gsm8k", "gen", 0, ("strict-match", "flexible-extract"), 1.0),
    ("minerva_math_algebra", "gen", 0, ("none",), 1.0),
    ("humaneval", "gen", 0, ("create_test",), 1.0),
    ("mbpp", "gen", 0, ("none",), 1.0),
    ("ifeval", "gen", 0, ("none",), 1.0),
    ("mmmu_val", "mm", 4, ("none",), 0.25),
    ("chartqa", "mm", 0, ("none",), 0.25),
    ("docvqa_val", "mm", 0, ("none",), 0.25),
    ("scienceqa_img", "mm", 4, ("none",), 0.25),
)

_WORDS = (
    "the of and to in is that for it as was with be by on not he this are or his from at which "
    "but have an they you were her she there been one all we their has would when if so no will "
    "more can some them other than into could time these two may then do first any my now such "
    "like our over man me even most made after also did many before must through back years where "
    "much your way well down should because each just those people how too little state good very "
    "make world still own see men work long get here between both life being under never day same "
    "another know while last might us great old year off come since against go came right used take "
    "three therefore let x equals solve compute integral derivative function return value answer "
    "step first second finally thus hence sum product matrix vector probability expected def "
    "import numpy for i in range(n): if else elif print result total count list dict string"
).split()

_PUNCT = (". ", ", ", "; ", ".\n", "\n\n", " = ", ": ", "? ")


def _corpus(seed: int, size: int = 1 << 18) -> str:
    rng = random.Random(f"corpus:{seed}")
    parts: list[str] = []
    n = 0
    while n < size:
        w = rng.choice(_WORDS)
        sep = rng.choice(_PUNCT) if rng.random() < 0.12 else " "
        parts.append(w)
        parts.append(sep)
        n += len(w) + len(sep)
    # A few non-ASCII characters, as real outputs have (ensure_ascii=False matters).
    text = "".join(parts)
    return text.replace(" equals ", " égale ").replace(" answer ", " answer ✓ ")


@dataclass(frozen=True)
class TaskSpec:
    name: str
    kind: str
    n_choices: int
    filters: tuple[str, ...]
    n_docs: int

    @property
    def n_records(self) -> int:
        return self.n_docs * len(self.filters)


# the data sets: "mixed" (all tasks above, ~6 % of the records with an image) and "text"
# (MMLU-like multiple choice and GSM8K-like generation only, no images)
DATASETS = ("mixed", "text")
_TEXT_TASKS = ("mmlu_stem", "mmlu_humanities", "mmlu_social_sciences", "mmlu_other", "gsm8k")
DATASET = "mixed"  # the workers set it from --data


def _tasks() -> tuple[tuple[str, str, int, tuple[str, ...], float], ...]:
    if DATASET == "text":
        return tuple(t for t in _TASKS if t[0] in _TEXT_TASKS)
    return _TASKS


def plan(n_total: int) -> list[TaskSpec]:
    """Split ``n_total`` records over the tasks of :data:`DATASET` (exactly ``n_total`` in all)."""
    tasks = _tasks()
    total_w = sum(w * len(f) for _, _, _, f, w in tasks)
    specs: list[TaskSpec] = []
    assigned = 0
    for i, (name, kind, nc, filters, w) in enumerate(tasks):
        if i == len(tasks) - 1:
            n_docs = max(0, (n_total - assigned) // len(filters))
        else:
            n_docs = max(1, int(n_total * w / total_w))
        specs.append(TaskSpec(name, kind, nc, filters, n_docs))
        assigned += n_docs * len(filters)
    # Give any remainder (from flooring) to the first single-filter task.
    rest = n_total - sum(s.n_records for s in specs)
    if rest:
        s0 = specs[0]
        specs[0] = TaskSpec(s0.name, s0.kind, s0.n_choices, s0.filters, s0.n_docs + rest)
    assert sum(s.n_records for s in specs) == n_total, (n_total, specs)
    return specs


def _sha(s: str) -> str:
    return hashlib.sha256(s.encode("utf-8")).hexdigest()


class _Gen:
    def __init__(self, flavor: str, seed: int) -> None:
        if flavor not in FLAVORS:
            raise ValueError(f"unknown flavor {flavor!r}")
        self.flavor = flavor
        self.seed = seed
        self.corpus = _corpus(seed)
        self.clen = len(self.corpus)

    def text(self, rng: random.Random, lo: int, hi: int) -> str:
        n = rng.randint(lo, hi)
        o = rng.randrange(0, self.clen - n)
        return self.corpus[o : o + n]

    # --- one task -------------------------------------------------------------------------
    def task_records(self, spec: TaskSpec) -> Iterator[dict]:
        rng = random.Random(f"{self.seed}:{self.flavor}:{spec.name}")
        if len(spec.filters) == 1:
            for i in range(spec.n_docs):
                yield self._record(rng, spec, i, self._doc(rng, spec, i), spec.filters[0])
            return
        # Several filters: lm-eval/lmms-eval loop filters outside docs (one record per
        # (filter, doc)).  The docs come from a generator of their own, seeded again for each
        # filter's pass, so that each pass sees the same docs without keeping them all in
        # memory (the lazy form's memory stays bounded).  Only gsm8k has two filters.
        for f in spec.filters:
            doc_rng = random.Random(f"{self.seed}:{self.flavor}:{spec.name}:docs")
            for i in range(spec.n_docs):
                yield self._record(rng, spec, i, self._doc(doc_rng, spec, i), f)

    def _doc(self, rng: random.Random, spec: TaskSpec, i: int) -> dict:
        doc: dict = {"id": f"{spec.name}-{i}", "question": self.text(rng, 120, 700)}
        if spec.n_choices:
            doc["choices"] = [self.text(rng, 5, 80) for _ in range(spec.n_choices)]
            doc["answer"] = rng.randrange(spec.n_choices)
        else:
            doc["answer"] = self.text(rng, 2, 40)
        if spec.kind == "mm":
            nbytes = rng.randint(10_000, 50_000)
            doc["image"] = {
                "bytes": b"\x89PNG\r\n\x1a\n" + rng.randbytes(nbytes - 8),
                "path": f"{spec.name}_{i:06d}.png",
            }
        doc["meta"] = {"source": "synthetic", "difficulty": rng.choice(("easy", "medium", "hard")), "split": "test"}
        return doc

    def _record(self, rng: random.Random, spec: TaskSpec, i: int, doc: dict, filt: str) -> dict:
        if self.flavor == "lm-eval":
            return self._record_lme(rng, spec, i, doc, filt)
        return self._record_lmms(rng, spec, i, doc, filt)

    def _context(self, rng: random.Random, doc: dict) -> str:
        # Few-shot prefix + question: 0.3-1.8 KB of prompt.
        return self.text(rng, 200, 1100) + "\n\nQuestion: " + doc["question"] + "\nAnswer:"

    def _loglik(self, rng: random.Random, n: int) -> list[tuple[float, bool]]:
        return [(-rng.random() * 30.0, rng.random() < 0.2) for _ in range(n)]

    # --- lm-eval shape (LME/evaluator.py:642-667) -------------------------------------------
    def _record_lme(self, rng: random.Random, spec: TaskSpec, i: int, doc: dict, filt: str) -> dict:
        ctx = self._context(rng, doc)
        if spec.n_choices:  # loglikelihood multiple choice (mm tasks with choices too)
            target = doc["answer"]
            arguments = [(ctx, " " + c) for c in doc["choices"]]
            ll = self._loglik(rng, spec.n_choices)
            resps = [[x] for x in ll]
            filtered = list(ll)
            metrics = ["acc", "acc_norm"]
            pred = max(range(spec.n_choices), key=lambda k: ll[k][0])
            values = {"acc": np.float64(pred == target), "acc_norm": np.float32(rng.random() < 0.5)}
        else:
            target = doc["answer"]
            gen_kwargs = {"until": ["Question:", "</s>", "<|im_end|>"], "do_sample": False, "temperature": 0.0, "max_gen_toks": 1024}
            arguments = [(ctx, gen_kwargs)]
            if spec.kind == "mm":
                out = self.text(rng, 200, 800)
            else:
                out = self.text(rng, 2048, 4096)
            resps = [[out]]
            filtered = [out if filt in ("none", "create_test") else out[-12:].strip()]
            metrics = ["exact_match"]
            values = {"exact_match": np.float64(rng.random() < 0.4)}
            if spec.name == "ifeval":
                metrics = ["prompt_level_strict_acc", "inst_level_strict_acc"]
                values = {
                    "prompt_level_strict_acc": np.bool_(rng.random() < 0.5),
                    "inst_level_strict_acc": [bool(rng.random() < 0.6) for _ in range(rng.randint(1, 4))],
                }
            elif spec.name == "humaneval":
                metrics = ["pass@1"]
                values = {"pass@1": np.float32(rng.random() < 0.3)}
        key = f"{spec.name}:{i}"
        rec = {
            "doc_id": i,
            "doc": doc,
            "target": target,
            "arguments": arguments,
            "resps": resps,
            "filtered_resps": filtered,
            "filter": filt,
            "metrics": metrics,
            "doc_hash": _sha("doc:" + key),
            "prompt_hash": _sha(ctx[:64] + key),
            "target_hash": _sha(str(target)),
        }
        rec.update(values)
        return rec

    # --- lmms-eval shape (LMMS/evaluator.py:298-363) ----------------------------------------
    def _record_lmms(self, rng: random.Random, spec: TaskSpec, i: int, doc: dict, filt: str) -> dict:
        ctx = ("<image>\n" if spec.kind == "mm" else "") + self._context(rng, doc)
        saved_doc = {k: v for k, v in doc.items() if not (isinstance(v, dict) and "bytes" in v)}
        input_media = None
        if spec.kind == "mm":
            input_media = ["data:image/png;base64," + base64.b64encode(doc["image"]["bytes"]).decode("ascii")]
        if spec.n_choices:
            target = "ABCDEFGHIJ"[doc["answer"]]
            arguments: list = []
            for c in doc["choices"]:
                arguments += [ctx, " " + c, i, spec.name, "test"]
            ll = self._loglik(rng, spec.n_choices)
            resps = list(ll)  # raw_filtered_resps of each request (take_first), as with reasoning tags on
            filtered = list(ll)
            token_counts = [None] * spec.n_choices
            pred = max(range(spec.n_choices), key=lambda k: ll[k][0])
            values: dict = {"acc": np.float64(pred == doc["answer"])}
        else:
            target = doc["answer"]
            gen_kwargs = {"until": ["\n\n"], "max_new_tokens": 1024, "temperature": 0.0, "do_sample": False}
            arguments = [ctx, gen_kwargs, i, spec.name, "test"]
            n = (200, 800) if spec.kind == "mm" else (2048, 4096)
            raw = self.text(rng, *n)
            if rng.random() < 0.3:  # a reasoning trace that the tag filter strips
                raw = "<think>" + self.text(rng, 100, 400) + "</think> " + raw
                stripped = raw.split("</think>", 1)[1].strip()
            else:
                stripped = raw
            resps = [[raw]]
            filtered = [stripped if filt == "none" else stripped[-12:].strip()]
            token_counts = [{"input_tokens": len(ctx) // 4, "output_tokens": len(raw) // 4}]
            values = {"exact_match": np.float64(rng.random() < 0.4)}
        if spec.kind == "mm":
            values = {
                f"{spec.name}_score": {
                    "question_id": f"{spec.name}-{i}",
                    "category": rng.choice(("chart", "table", "photo", "diagram")),
                    "score": np.float32(rng.random()),
                    "parsed_pred": filtered[0] if isinstance(filtered[0], str) else target,
                },
            }
        rec = {
            "doc_id": i,
            "doc": saved_doc,
            "target": target,
            "arguments": arguments,
            "resps": resps,
            "filtered_resps": filtered,
            "token_counts": token_counts,
            "doc_hash": _sha(f"doc:{spec.name}:{i}"),
        }
        if input_media:
            rec["input_media"] = input_media
        rec.update(values)
        return rec


def iter_samples(flavor: str, n_total: int, seed: int = 1234) -> Iterator[tuple[str, dict]]:
    """Lazily yield ``(task_name, record)`` for ``n_total`` records, task after task."""
    g = _Gen(flavor, seed)
    for spec in plan(n_total):
        for rec in g.task_records(spec):
            yield spec.name, rec


def make_samples(flavor: str, n_total: int, seed: int = 1234) -> dict[str, list[dict]]:
    """The same records as :func:`iter_samples`, materialised as ``{task: [record, ...]}``."""
    out: dict[str, list[dict]] = {}
    for task, rec in iter_samples(flavor, n_total, seed):
        out.setdefault(task, []).append(rec)
    return out


def make_results(flavor: str, n_total: int, seed: int = 1234) -> dict:
    """A results dict (formats.md §7.1/§7.2) matching :func:`plan`, without ``samples``."""
    rng = random.Random(f"results:{seed}:{flavor}")
    specs = plan(n_total)
    results: dict = {}
    configs: dict = {}
    for s in specs:
        metric_names = ["acc", "acc_norm"] if s.n_choices else ["exact_match"]
        entry: dict = {}
        if flavor == "lm-eval":
            entry = {"name": s.name, "alias": s.name, "sample_len": s.n_docs}
        else:
            entry = {"alias": s.name}
        for f in s.filters:
            for m in metric_names:
                v = rng.random()
                entry[f"{m},{f}"] = v
                entry[f"{m}_stderr,{f}"] = (v * (1 - v) / max(1, s.n_docs)) ** 0.5
                if flavor == "lmms-eval":
                    entry[f"{m}_stderr_clt,{f}"] = entry[f"{m}_stderr,{f}"]
                    entry[f"{m}_stderr_clustered,{f}"] = "N/A"
        results[s.name] = entry
        configs[s.name] = {
            "task": s.name,
            "dataset_path": f"org/{s.name}",
            "test_split": "test",
            "doc_to_text": "Question: {{question}}\nAnswer:",
            "doc_to_target": "{{answer}}",
            "description": "",
            "target_delimiter": " ",
            "fewshot_delimiter": "\n\n",
            "num_fewshot": 5 if s.kind != "mm" else 0,
            "metric_list": [{"metric": m, "aggregation": "mean", "higher_is_better": True} for m in metric_names],
            "output_type": "multiple_choice" if s.n_choices else "generate_until",
            "generation_kwargs": None if s.n_choices else {"until": ["\n\n"], "do_sample": False},
            "repeats": 1,
            "filter_list": [{"name": f, "filter": [{"function": "take_first"}]} for f in s.filters],
            "should_decontaminate": False,
            "metadata": {"version": 1.0, "pretrained": "org/model"},
        }
    names = sorted(results)
    out: dict = {
        "results": results,
        "group_subtasks": {} if flavor == "lm-eval" else {n: [] for n in names},
        "configs": dict(sorted(configs.items())),
        "versions": {n: 1.0 for n in names},
        "n-shot": {n: configs[n]["num_fewshot"] for n in names},
        "higher_is_better": {n: {m["metric"]: True for m in configs[n]["metric_list"]} for n in names},
        "n-samples": {s.name: {"original": s.n_docs, "effective": s.n_docs} for s in specs},
        "config": {
            "model": "hf",
            "model_args": "pretrained=org/model,dtype=bfloat16",
            "batch_size": "auto",
            "batch_sizes": [64],
            "device": "cuda:0",
            "use_cache": None,
            "limit": None,
            "bootstrap_iters": 100000,
            "gen_kwargs": None,
            "random_seed": 0,
            "numpy_seed": 1234,
            "torch_seed": 1234,
            "fewshot_seed": 1234,
            "model_dtype": np.dtype("float32"),  # non-JSON value: goes through the default hook
        },
        "git_hash": "77d9352",
        "date": 1764166800.0 if flavor == "lm-eval" else "20251126_150000",
    }
    if flavor == "lm-eval":
        out.update({"pretty_env_info": "N/A", "transformers_version": "N/A", "lm_eval_version": "0.4.13", "upper_git_hash": None})
    else:
        out.update({"git_branch": None, "lmms_eval_version": "unknown@unknown", "usage": {}})
    return out
