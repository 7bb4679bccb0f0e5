"""One measurement per process, run by bench_save.py with the anchors' venv interpreter.

    python bench/_save_workers.py WORKER --n N --seed S --out DIR [--profile FILE]

WORKER is one of:

* ``anchor-lm-eval``   lm_eval.loggers.EvaluationTracker: save_results_aggregated + save_results_samples per task
* ``anchor-lmms-eval`` lmms_eval.loggers.EvaluationTracker, same, three-argument save_results_aggregated
* ``evallog-lm-eval``, ``evallog-lmms-eval``  evallog.EvaluationTracker(flavor=...), same calls (batch save)
* ``stream-lm-eval``, ``stream-lmms-eval``    evallog.EvaluationTracker: log_sample() for each record of
  a lazy generator, then save_results_aggregated(results) and close()
* ``gen-lm-eval``, ``gen-lmms-eval``          only iterate the lazy generator (its cost, to subtract from streaming)

Batch workers build all records before the clock starts; streaming workers generate them on the
fly (that is the point: memory stays bounded).  Peak RSS: the kernel's high-water mark is reset
(``/proc/self/clear_refs`` ← 5) right before the timed phase, and the increase is
``VmHWM(after) - VmRSS(before)``.  Prints one JSON object on the last stdout line.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import json
import os
import re
import sys
import time
import types
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import _save_data as data  # noqa: E402

MODEL_ARGS = "pretrained=org/model"
DATETIME_STR = "20251126_150000"  # lmms-eval's run id (utils.get_datetime_str format)


def _status() -> dict[str, int]:
    text = Path("/proc/self/status").read_text()
    return {k: int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1)) * 1024 for k in ("VmRSS", "VmHWM")}


def _reset_hwm() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _stub_torch_transformers() -> list[str]:
    """lmms_eval.utils imports torch and transformers at module level but the tracker never uses
    them.  When they are not installed, register minimal stand-ins (any attribute is a dummy
    class) so the import succeeds without a multi-GB install.  Returns the stubbed names."""
    stubbed = []

    class _Any(types.ModuleType):
        def __getattr__(self, name: str):
            if name.startswith("__"):
                raise AttributeError(name)
            value = type(name, (), {})
            setattr(self, name, value)
            return value

    for name in ("torch", "transformers"):
        if importlib.util.find_spec(name) is not None:
            continue
        mod = _Any(name)
        mod.__path__ = []  # a package, so submodule imports resolve to the stubs below
        sys.modules[name] = mod
        stubbed.append(name)
    if "torch" in stubbed:
        for sub in ("torch.utils", "torch.utils.collect_env"):
            m = _Any(sub)
            m.__path__ = []
            sys.modules[sub] = m
        sys.modules["torch.utils.collect_env"].get_pretty_env_info = lambda: "N/A (torch stub)"
        sys.modules["torch"].utils = sys.modules["torch.utils"]
        sys.modules["torch.utils"].collect_env = sys.modules["torch.utils.collect_env"]
    if "transformers" in stubbed:
        sys.modules["transformers"].__version__ = "0+stub"
    return stubbed


def _log_args(tracker) -> None:
    tracker.general_config_tracker.log_experiment_args(
        model_source="hf",
        model_args=MODEL_ARGS,
        system_instruction=None,
        chat_template=None,
        fewshot_as_multiturn=False,
    )


def _tree_stats(root: Path) -> tuple[int, int, int]:
    """(bytes, files, lines in *.jsonl) of everything under root."""
    nbytes = files = lines = 0
    for p in root.rglob("*"):
        if p.is_file():
            files += 1
            nbytes += p.stat().st_size
            if p.name.endswith(".jsonl"):
                with open(p, "rb") as f:
                    for chunk in iter(lambda: f.read(1 << 24), b""):
                        lines += chunk.count(b"\n")
    return nbytes, files, lines


def _new_tracker(worker: str, out: Path, extra: dict | None = None):
    stubbed: list[str] = []
    kind, flavor = worker.split("-", 1)
    if kind == "anchor" and flavor == "lm-eval":
        from lm_eval.loggers.evaluation_tracker import EvaluationTracker

        t = EvaluationTracker(output_path=str(out))
    elif kind == "anchor":
        import datasets  # noqa: F401  (imported before the stubs: it probes for torch with find_spec)

        stubbed = _stub_torch_transformers()
        from lmms_eval.loggers.evaluation_tracker import EvaluationTracker

        t = EvaluationTracker(output_path=str(out))
    else:
        from evallog import EvaluationTracker

        # lmms-eval computes datetime_str before evaluating; evallog takes it at construction
        # (the streamed files get their final names from the start).
        run_id = DATETIME_STR if flavor == "lmms-eval" and kind == "stream" else None
        t = EvaluationTracker(output_path=str(out), flavor=flavor, run_id=run_id, **(extra or {}))
    _log_args(t)
    return t, flavor, stubbed


def run(worker: str, n: int, seed: int, out: Path, profile: str | None, extra: dict | None = None) -> dict:
    kind, flavor = worker.split("-", 1)
    out.mkdir(parents=True, exist_ok=True)
    info: dict = {"worker": worker, "n": n, "seed": seed}
    datetime_str = DATETIME_STR

    if kind == "gen":
        gc.collect()
        base = _status()["VmRSS"]
        _reset_hwm()
        c0 = time.process_time()
        t0 = time.perf_counter()
        count = sum(1 for _ in data.iter_samples(flavor, n, seed))
        dt = time.perf_counter() - t0
        info.update(seconds=dt, cpu_seconds=time.process_time() - c0, samples=count, bytes=0, files=0, lines=0, rss_increase=_status()["VmHWM"] - base)
        return info

    tracker, flavor, stubbed = _new_tracker(worker, out, extra)
    info["stubbed"] = stubbed
    results = data.make_results(flavor, n, seed)
    samples = data.make_samples(flavor, n, seed) if kind != "stream" else None
    tasks = list(results["configs"])

    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()

    gc.collect()
    base = _status()["VmRSS"]
    info["hwm_reset"] = _reset_hwm()
    c0 = time.process_time()
    t0 = time.perf_counter()
    if prof:
        prof.enable()

    if kind == "stream":
        count = 0
        for task, rec in data.iter_samples(flavor, n, seed):
            tracker.log_sample(task, rec)
            count += 1
        if flavor == "lm-eval":
            tracker.save_results_aggregated(results)
        else:
            tracker.save_results_aggregated(results, None, datetime_str)
        tracker.close()
    else:
        count = sum(len(v) for v in samples.values())
        if flavor == "lm-eval":
            tracker.save_results_aggregated(results, samples)
        else:
            tracker.save_results_aggregated(results, samples, datetime_str)
        for task in tasks:
            tracker.save_results_samples(task, samples[task])

    if prof:
        prof.disable()
    dt = time.perf_counter() - t0
    cpu = time.process_time() - c0
    after = _status()
    if prof:
        prof.dump_stats(profile)

    nbytes, files, lines = _tree_stats(out)
    info.update(seconds=dt, cpu_seconds=cpu, samples=count, bytes=nbytes, files=files, lines=lines,
                rss_increase=after["VmHWM"] - base, rss_base=base)
    if lines != count:
        # The anchors swallow every exception (formats.md §3.1/§4.4): a short file is the only sign.
        info["error"] = f"expected {count} sample lines, found {lines}"
    return info


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("worker")
    ap.add_argument("--n", type=int, required=True)
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--profile", default=None, help="write cProfile stats of the timed phase here")
    ap.add_argument("--tracker-kwargs", default="{}", help="JSON object of extra keyword arguments for evallog's tracker")
    ap.add_argument("--data", choices=data.DATASETS, default="mixed", help="data set (see _save_data.DATASETS)")
    a = ap.parse_args(argv)
    data.DATASET = a.data
    info = run(a.worker, a.n, a.seed, a.out, a.profile, json.loads(a.tracker_kwargs))
    sys.stdout.write("\n" + json.dumps(info) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
