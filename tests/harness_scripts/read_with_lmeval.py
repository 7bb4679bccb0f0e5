"""lm-eval's own file helpers on an output folder; prints JSON facts for the test."""

import json
import sys
from pathlib import Path

from lm_eval.utils import (
    get_file_task_name,
    get_latest_filename,
    get_results_filenames,
    get_sample_results_filenames,
)

root = Path(sys.argv[1])
files = [str(p) for p in root.rglob("*") if p.is_file() and ".evallog" not in p.parts]
results = get_results_filenames(files)
samples = get_sample_results_filenames(files)
latest = get_latest_filename(results)
latest_samples = [s for s in samples if s.endswith(Path(latest).stem.split("_", 1)[1] + ".jsonl")]
print(json.dumps({
    "results": sorted(results),
    "latest": latest,
    "latest_keys": sorted(json.loads(Path(latest).read_text())),
    "tasks": sorted(get_file_task_name(Path(s).name) for s in latest_samples),
    "lines": {get_file_task_name(Path(s).name): len(Path(s).read_text().splitlines()) for s in latest_samples},
}))
