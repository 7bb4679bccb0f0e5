"""The Python entry point: simple_evaluate with evallog installed in-process."""

import json
import sys

import evallog.integrations as ei

ei.install()

import lm_eval  # noqa: E402
from lm_eval.loggers import EvaluationTracker  # noqa: E402
from lm_eval.tasks import TaskManager  # noqa: E402

from evallog.integrations.session import StreamedSamples  # noqa: E402

tasks_dir, out = sys.argv[1], sys.argv[2]
tracker = EvaluationTracker(output_path=out)
results = lm_eval.simple_evaluate(
    model="dummy",
    tasks=["gt_mc_arith", "gt_gen_math"],
    task_manager=TaskManager(include_path=tasks_dir, include_defaults=False),
    log_samples=True,
    evaluation_tracker=tracker,
    random_seed=1, numpy_random_seed=1, torch_random_seed=1, fewshot_random_seed=1,
)
samples = results.pop("samples")
streamed = {t: [type(s).__name__, len(s), getattr(s, "streamed", None)] for t, s in samples.items()}
tracker.save_results_aggregated(results=results, samples=samples)
for task in results["configs"]:
    tracker.save_results_samples(task_name=task, samples=samples[task])
tracker.close()
print(json.dumps({"tracker": type(tracker).__module__, "streamed": streamed,
                  "is_streamed": all(isinstance(s, StreamedSamples) for s in samples.values()),
                  "results_path": str(tracker.results_path)}))
