"""lmms-eval's own results loaders on an output folder; prints JSON facts for the test."""

import importlib.util
import json
import sys
import types
from pathlib import Path

import lmms_eval
from lmms_eval.baselines.loader import _load_baseline_from_local

# the job scheduler's package __init__ starts an HTTP server stack (uvicorn, not installed):
# load the scheduler module itself, as the server would
_pkg = Path(lmms_eval.__file__).parent / "entrypoints"
sys.modules.setdefault("lmms_eval.entrypoints", types.ModuleType("lmms_eval.entrypoints")).__path__ = [str(_pkg)]
_spec = importlib.util.spec_from_file_location("lmms_eval.entrypoints.job_scheduler", _pkg / "job_scheduler.py")
_mod = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_mod)
JobScheduler = _mod.JobScheduler

root = sys.argv[1]
parsed = JobScheduler._parse_output_directory(root)
facts = {"models": sorted(parsed), "tasks": {}}
for run in parsed.values():
    facts["results_keys"] = sorted(json.loads(Path(run["results"]).read_text()))
    for path in run["samples"]:
        task = Path(path).name.split("_samples_", 1)[1][: -len(".jsonl")]
        scores, agg = _load_baseline_from_local(path, task)
        facts["tasks"][task] = {"docs": len(scores), "has_results": agg is not None and "results" in agg}
print(json.dumps(facts))
