"""A tiny, deterministic evaluation run through the tracker (``evallog demo``).

Four bundled tasks, no downloads: ``demo_arith`` (multiple choice scored by
loglikelihood, ``acc``/``acc_norm``), ``demo_gen_math`` (generation with two
filters, ``exact_match``) and the group ``demo_knowledge`` made of
``demo_science`` and ``demo_history``. Three toy "models" of different skill
(:data:`MODELS`) answer them, one run (and model folder) each, so that
``evallog compare``, ``leaderboard`` and ``report`` on the output show real
differences, flipped samples and a ranking. A model answers a document right
when the document's difficulty plus some noise of its own is below its skill;
difficulty and noise come from a hash of ``seed``, so a seed always gives the
same numbers and another seed other ones.

The run produces the results dict and the per-sample records in the shape the
chosen flavor's harness hands to its tracker, streams the samples with
:meth:`~evallog.EvaluationTracker.log_sample`, then saves the aggregated
results: the files are real lm-eval / lmms-eval files.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from evallog.aggregations import pooled_sample_stderr

__all__ = ["run_demo", "DemoRun", "MODELS"]

MODELS: tuple[tuple[str, float], ...] = (
    ("evallog/toy-small", 0.35),
    ("evallog/toy-medium", 0.6),
    ("evallog/toy-large", 0.85),
)
"""The demo's models: (name, skill between 0 and 1)."""

_SCIENCE = [
    ("Water boils at sea level at", ["100 °C", "50 °C", "0 °C", "150 °C"], 0),
    ("The chemical symbol of gold is", ["Ag", "Au", "Gd", "Go"], 1),
    ("Light from the Sun reaches Earth in about", ["8 minutes", "8 seconds", "8 hours", "8 days"], 0),
    ("The powerhouse of the cell is the", ["nucleus", "ribosome", "mitochondrion", "membrane"], 2),
    ("Sound travels fastest in", ["air", "vacuum", "water", "steel"], 3),
    ("水の化学式は", ["H2O", "CO2", "O2", "NaCl"], 0),
    ("The planet closest to the Sun is", ["Venus", "Mercury", "Mars", "Earth"], 1),
    ("Photosynthesis produces", ["nitrogen", "methane", "oxygen", "helium"], 2),
]
_HISTORY = [
    ("The Berlin Wall fell in", ["1989", "1961", "1945", "2001"], 0),
    ("La Révolution française a commencé en", ["1689", "1789", "1889", "1799"], 1),
    ("The first person on the Moon was", ["Yuri Gagarin", "Buzz Aldrin", "Neil Armstrong", "John Glenn"], 2),
    ("The Roman emperor in 117 AD was", ["Nero", "Augustus", "Caligula", "Hadrian"], 3),
    ("The printing press was developed by", ["Gutenberg", "Newton", "Galileo", "Da Vinci"], 0),
    ("The Meiji Restoration took place in", ["Korea", "Japan", "China", "Vietnam"], 1),
]


@dataclass
class DemoRun:
    """What :func:`run_demo` produced."""

    results: dict[str, Any]
    output_dir: Path  # the model folder
    results_file: Path | None
    sample_files: dict[str, Path]
    model: str
    model_args: str


def _h(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False, default=str).encode("utf-8")).hexdigest()


def _unit(*parts: Any) -> float:
    """A number in [0, 1) from a hash of ``parts``."""
    return int(_h(*parts)[:8], 16) / 0x100000000


@dataclass(frozen=True)
class _Model:
    name: str
    skill: float
    seed: int

    def knows(self, task: str, doc_id: int) -> bool:
        """Right on this document: shared difficulty plus the model's own noise below its skill."""
        difficulty = _unit("difficulty", self.seed, task, doc_id)
        noise = _unit("noise", self.seed, self.name, task, doc_id) - 0.5
        return difficulty + 0.9 * noise < self.skill

    def pick_wrong(self, task: str, doc_id: int, n: int, right: int) -> int:
        wrong = [i for i in range(n) if i != right]
        return wrong[int(_unit("pick", self.seed, self.name, task, doc_id) * len(wrong))]


def _score(context: str, continuation: str, favoured: bool, model: _Model) -> float:
    """Toy loglikelihood: deterministic noise, the answer the model favours scores higher."""
    noise = _unit(model.name, model.seed, context, continuation)
    return round(-1.0 - 3.0 * noise + (2.6 if favoured else 0.0), 4)


def _mean_stderr(values: list[float]) -> tuple[float, float | str]:
    n = len(values)
    mean = sum(values) / n
    if n < 2:
        return mean, "N/A"
    var = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(var / n)


def _arith_docs(n: int) -> list[dict[str, Any]]:
    rng = random.Random(1234)
    docs = []
    for i in range(n):
        a, b = rng.randint(2, 60), rng.randint(2, 60)
        answer = a + b
        choices = [str(answer), str(answer + 1), str(answer - 2), str(answer + 10)]
        rng.shuffle(choices)
        docs.append({"question": f"{a} + {b} =", "choices": choices, "label": choices.index(str(answer)), "meta": {"id": i, "source": None}})
    return docs


def _mc_task(
    name: str, docs: list[dict[str, Any]], flavor: str, model: _Model
) -> tuple[list[dict[str, Any]], dict[str, list[float]]]:
    samples: list[dict[str, Any]] = []
    metrics: dict[str, list[float]] = {"acc": [], "acc_norm": []}
    for doc_id, doc in enumerate(docs):
        context = f"Question: {doc['question']}\nAnswer:"
        n = len(doc["choices"])
        favoured = doc["label"] if model.knows(name, doc_id) else model.pick_wrong(name, doc_id, n, doc["label"])
        scores = [_score(context, c, i == favoured, model) for i, c in enumerate(doc["choices"])]
        lens = [len(c) for c in doc["choices"]]
        pred = max(range(len(scores)), key=scores.__getitem__)
        pred_norm = max(range(len(scores)), key=lambda i: scores[i] / max(1, lens[i]))
        acc, acc_norm = float(pred == doc["label"]), float(pred_norm == doc["label"])
        metrics["acc"].append(acc)
        metrics["acc_norm"].append(acc_norm)
        resps = [[(s, i == pred)] for i, s in enumerate(scores)]
        filtered = [(s, i == pred) for i, s in enumerate(scores)]
        doc_hash = _h(doc)
        if flavor == "lm-eval":
            samples.append({
                "doc_id": doc_id, "doc": doc, "target": doc["label"],
                "arguments": [(context, f" {c}") for c in doc["choices"]],
                "resps": resps, "filtered_resps": filtered, "filter": "none",
                "metrics": ["acc", "acc_norm"], "doc_hash": doc_hash,
                "prompt_hash": hashlib.sha256(context.encode()).hexdigest(),
                "target_hash": hashlib.sha256(str(doc["label"]).encode()).hexdigest(),
                "acc": acc, "acc_norm": acc_norm,
            })
        else:
            samples.append({
                "doc_id": doc_id, "doc": doc, "target": doc["label"],
                "arguments": [context, *[f" {c}" for c in doc["choices"]]],
                "resps": resps, "filtered_resps": filtered, "token_counts": [None] * len(scores),
                "doc_hash": doc_hash, "acc": acc, "acc_norm": acc_norm,
            })
    return samples, metrics


def _gen_task(
    flavor: str, model: _Model, n: int = 16
) -> tuple[list[dict[str, Any]], dict[str, dict[str, list[float]]]]:
    rng = random.Random(99)
    samples: list[dict[str, Any]] = []
    metrics: dict[str, dict[str, list[float]]] = {"strict-match": {"exact_match": []},
                                                  "flexible-extract": {"exact_match": []}}
    docs = []
    for _ in range(n):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        docs.append({"question": f"Compute {a} * {b}.", "answer": str(a * b)})
    for filter_name in ("strict-match", "flexible-extract"):
        for doc_id, doc in enumerate(docs):
            prompt = f"Question: {doc['question']} End with 'The answer is N.'\nAnswer:"
            right = model.knows("demo_gen_math", doc_id)
            value = doc["answer"] if right else str(int(doc["answer"]) + 7)
            raw = f"Let me think. The answer is {value}." if doc_id % 4 else f"{value}"
            if filter_name == "strict-match":
                extracted = value if raw.startswith("Let") else "[invalid]"
            else:
                extracted = value
            em = float(extracted == doc["answer"])
            metrics[filter_name]["exact_match"].append(em)
            gen_kwargs = {"until": ["\n\n", "Question:"], "do_sample": False, "temperature": 0.0}
            if flavor == "lm-eval":
                samples.append({
                    "doc_id": doc_id, "doc": doc, "target": doc["answer"],
                    "arguments": [(prompt, gen_kwargs)], "resps": [[raw]], "filtered_resps": [extracted],
                    "filter": filter_name, "metrics": ["exact_match"], "doc_hash": _h(doc),
                    "prompt_hash": hashlib.sha256(prompt.encode()).hexdigest(),
                    "target_hash": hashlib.sha256(doc["answer"].encode()).hexdigest(),
                    "exact_match": em,
                })
            else:
                samples.append({
                    "doc_id": doc_id, "doc": doc, "target": doc["answer"], "arguments": [prompt, gen_kwargs],
                    "resps": [[raw]], "filtered_resps": [extracted],
                    "token_counts": [{"output_tokens": len(raw.split())}], "doc_hash": _h(doc),
                    "exact_match": em, "filter": filter_name,
                })
    return samples, metrics


def _task_entry(name: str, alias: str, flavor: str, metrics: dict[str, dict[str, list[float]]]) -> dict[str, Any]:
    entry: dict[str, Any] = {}
    n = max(len(v) for per_filter in metrics.values() for v in per_filter.values())
    if flavor == "lm-eval":
        entry.update({"name": name, "alias": alias, "sample_len": n})
    else:
        entry["alias"] = alias
    for filter_name, per_metric in metrics.items():
        for metric, values in per_metric.items():
            mean, se = _mean_stderr(values)
            entry[f"{metric},{filter_name}"] = mean
            entry[f"{metric}_stderr,{filter_name}"] = se
            if flavor == "lmms-eval":
                entry[f"{metric}_stderr_clt,{filter_name}"] = se
                entry[f"{metric}_stderr_clustered,{filter_name}"] = "N/A"
    return entry


def _group_entry(group: str, sub: list[str],
                 tasks: dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, list[float]]]]],
                 flavor: str) -> dict[str, Any]:
    """The group's results entry: the subtasks' values pooled, their stderrs pooled as the harnesses do."""
    pooled: dict[str, list[float]] = {"acc": [], "acc_norm": []}
    for t in sub:
        for metric in pooled:
            pooled[metric] += tasks[t][1]["none"][metric]
    group_entry = _task_entry(group, "Knowledge (group)", flavor, {"none": pooled})
    for metric in pooled:  # the harnesses pool the subtasks' stderrs
        stderrs = [float(_mean_stderr(tasks[t][1]["none"][metric])[1]) for t in sub]
        sizes = [len(tasks[t][1]["none"][metric]) for t in sub]
        group_entry[f"{metric}_stderr,none"] = pooled_sample_stderr(stderrs, sizes)
        if flavor == "lmms-eval":
            del group_entry[f"{metric}_stderr_clt,none"], group_entry[f"{metric}_stderr_clustered,none"]
    if flavor == "lm-eval":
        group_entry["sample_count"] = {"acc,none": len(pooled["acc"]), "acc_norm,none": len(pooled["acc_norm"])}
    return group_entry


def build_run(
    flavor: str, model: str = MODELS[-1][0], skill: float = MODELS[-1][1], seed: int = 0
) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """The results dict and the samples of one model's demo evaluation, in ``flavor``'s shapes."""
    toy = _Model(model, skill, seed)
    tasks: dict[str, tuple[list[dict[str, Any]], dict[str, dict[str, list[float]]]]] = {}
    arith, m = _mc_task("demo_arith", _arith_docs(40), flavor, toy)
    tasks["demo_arith"] = (arith, {"none": m})
    gen, gm = _gen_task(flavor, toy)
    tasks["demo_gen_math"] = (gen, gm)
    for name, rows in (("demo_science", _SCIENCE), ("demo_history", _HISTORY)):
        docs = [{"question": q, "choices": c, "label": label} for q, c, label in rows]
        mc_samples, m = _mc_task(name, docs, flavor, toy)
        tasks[name] = (mc_samples, {"none": m})

    aliases = {"demo_science": "Science", "demo_history": "History"}
    results: dict[str, Any] = {}
    group = "demo_knowledge"
    sub = ["demo_history", "demo_science"]
    group_entry = _group_entry(group, sub, tasks, flavor)
    for name in ("demo_arith", "demo_gen_math", group, *sub):
        if name == group:
            results[name] = group_entry
        else:
            alias = aliases.get(name, name)
            if flavor == "lmms-eval" and name in sub:
                alias = " - " + alias
            results[name] = _task_entry(name, alias, flavor, tasks[name][1])
    samples = {name: tasks[name][0] for name in sorted(tasks)}
    higher = {name: {"acc": True, "acc_norm": True} for name in ("demo_arith", group, *sub)}
    higher["demo_gen_math"] = {"exact_match": True}
    document: dict[str, Any] = {
        "results": results,
        "groups": {group: group_entry},
        "group_subtasks": {group: sub} if flavor == "lm-eval" else {group: sub, "demo_arith": [], "demo_gen_math": []},
        "configs": {
            name: {"task": name, "dataset_path": "evallog/demo", "output_type": "multiple_choice" if name != "demo_gen_math" else "generate_until",
                   "num_fewshot": 0, "metadata": {"version": 1.0}}
            for name in sorted(tasks)
        },
        "versions": {name: 1.0 for name in sorted([*tasks, group])},
        "n-shot": {name: 0 for name in sorted(tasks)},
        "higher_is_better": {k: higher[k] for k in sorted(higher)},
        "n-samples": {name: {"original": len({s["doc_id"] for s in tasks[name][0]}), "effective": len({s["doc_id"] for s in tasks[name][0]})} for name in sorted(tasks)},
        "config": {"model": "toy", "model_args": f"pretrained={model},api_key=sk-demo-not-a-real-key-000000000000",
                   "batch_size": 1, "device": "cpu", "limit": None, "bootstrap_iters": 100000, "random_seed": seed},
        "git_hash": None,
        "date": time.time() if flavor == "lm-eval" else None,
    }
    return document, samples


def run_demo(
    output: str | Path = "demo-output",
    flavor: str = "lmms-eval",
    *,
    seed: int = 0,
    models: Sequence[tuple[str, float]] = MODELS,
) -> list[DemoRun]:
    """Evaluate each toy model of ``models`` and write one run per model folder under ``output``."""
    return [_run_model(output, flavor, name, skill, seed) for name, skill in models]


def _run_model(output: str | Path, flavor: str, model: str, skill: float, seed: int) -> DemoRun:
    from evallog.tracker import EvaluationTracker

    model_args = f"pretrained={model}"
    results, samples = build_run(flavor, model, skill, seed)
    with EvaluationTracker(output_path=str(output), flavor=flavor) as tracker:
        tracker.general_config_tracker.log_experiment_args(
            model_source="toy", model_args=model_args, system_instruction=None, chat_template=None,
            fewshot_as_multiturn=False,
        )
        if flavor == "lmms-eval":
            results["date"] = tracker.run_id
        for task, task_samples in samples.items():
            tracker.log_samples(task, task_samples)  # streamed while "evaluating"
            tracker.close_task(task)
        datetime_str = tracker.run_id if flavor == "lmms-eval" else None
        results_file = tracker.save_results_aggregated(results, None, datetime_str)
        sample_files = tracker.sample_paths
    folder = results_file.parent if results_file is not None else Path(output)
    return DemoRun(results, folder, results_file, sample_files, "toy", model_args)
