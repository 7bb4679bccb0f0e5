"""lmms-eval's own results loaders on an output folder; prints JSON facts for the test."""

import json
import sys
from pathlib import Path

from lmms_eval.baselines.loader import _load_baseline_from_local
from lmms_eval.entrypoints.job_scheduler import JobScheduler

root = sys.argv[1]
parsed = JobScheduler._parse_output_directory(root)
facts = {"models": sorted(parsed), "tasks": {}}
for model, run in parsed.items():
    facts["results_keys"] = sorted(json.loads(Path(run["results"]).read_text()))
    for path in run["samples"]:
        task = Path(path).name.split("_samples_", 1)[1][: -len(".jsonl")]
        scores, agg = _load_baseline_from_local(path, task)
        facts["tasks"][task] = {"docs": len(scores), "has_results": agg is not None and "results" in agg}
print(json.dumps(facts))
