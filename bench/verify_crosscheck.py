"""Cross-check evallog.aggregations against lm-eval 0.4.13's own functions (not run by the tests).

    pip download --no-deps lm-eval==0.4.13 -d /tmp/w && unzip -q /tmp/w/lm_eval-0.4.13-*.whl -d /tmp/w/x
    python3 -m venv /tmp/w/venv && /tmp/w/venv/bin/pip install numpy sacrebleu scikit-learn tqdm
    DISABLE_MULTIPROC=1 /tmp/w/venv/bin/python bench/verify_crosscheck.py /tmp/w/x

Imports ``lm_eval.api.metrics`` from the unpacked wheel and compares each aggregation, the
closed-form and pooled stderrs, and the seeded bootstrap (replayed draw for draw) with evallog's
re-implementation on random data. Prints the largest absolute difference of each.
lmms-eval's ``clustered_stderr`` is checked too when the unpacked lmms-eval 0.7.3 wheel sits in
the same folder (its metrics module needs ``evaluate`` to import, so the one function is taken
from the source file).
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, sys.argv[1] if len(sys.argv) > 1 else "/tmp/w/x")
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import lm_eval.api.metrics as M  # noqa: E402

from evallog import aggregations as A  # noqa: E402


def main() -> None:
    rng = random.Random(5)
    xs = [rng.random() for _ in range(37)]
    pairs = [(rng.randint(0, 1), rng.randint(0, 1)) for _ in range(40)]
    multi = [(rng.randint(0, 2), rng.randint(0, 2)) for _ in range(40)]
    probs = [(rng.randint(0, 2), [0.2, 0.3, 0.5]) for _ in range(9)]
    wp = [(-rng.random() * 10, rng.randint(1, 5)) for _ in range(9)]
    words = "the cat sat on a mat dog ran far away home".split()
    mt = [(" ".join(rng.choices(words, k=8)), " ".join(rng.choices(words, k=8))) for _ in range(30)]
    checks = [
        ("mean", M.mean(xs), A.mean(xs)),
        ("median", M.median(xs), A.median(xs)),
        ("mean_stderr", M.mean_stderr(xs), A.mean_stderr(xs)),
        ("f1", M.f1_score(pairs), A.f1_score(pairs)),
        ("mcc binary", M.matthews_corrcoef(pairs), A.matthews_corrcoef(pairs)),
        ("mcc 3 classes", M.matthews_corrcoef(multi), A.matthews_corrcoef(multi)),
        ("brier", M.brier_score(probs), A.brier_score(probs)),
        ("weighted_perplexity", M.weighted_perplexity(wp), A.weighted_perplexity(wp)),
        ("bits_per_byte", M.bits_per_byte(wp), A.bits_per_byte(wp)),
        ("pooled stderr", M.pooled_sample_stderr([0.1, 0.2], [10, 6]), A.pooled_sample_stderr([0.1, 0.2], [10, 6])),
        ("unweighted stderr", M.unweighted_mean_stderr([0.1, 0.2]), A.unweighted_mean_stderr([0.1, 0.2])),
        ("bleu", M.bleu(mt), A.bleu(mt)),
        ("chrf", M.chrf(mt), A.chrf(mt)),
        ("chrf++", M.chrfpp(mt), A.chrfpp(mt)),
        ("ter", M.ter(mt), A.ter(mt)),
        ("bootstrap median, 2000", M.bootstrap_stderr(M.median, xs, iters=2000),
         A.bootstrap_stderr(A.median, xs, 2000)),
        ("bootstrap perplexity, 2000", M.bootstrap_stderr(M.perplexity, xs, iters=2000),
         A.bootstrap_stderr(A.perplexity, xs, 2000)),
        ("bootstrap mcc, 2000", M.bootstrap_stderr(M.matthews_corrcoef, pairs, iters=2000),
         A.bootstrap_stderr(A.matthews_corrcoef, pairs, 2000)),
        ("bootstrap bleu, 100", M.bootstrap_stderr(M.bleu, mt, iters=100), A.bootstrap_stderr(A.bleu, mt, 100)),
    ]
    lmms = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/w/x") / "lmms_eval" / "api" / "metrics.py"
    if lmms.is_file():
        import ast
        import collections
        import math

        tree = ast.parse(lmms.read_text())
        fn = next(n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "clustered_stderr")
        ns: dict[str, object] = {"collections": collections, "math": math, "List": list, "Any": object}
        exec(compile(ast.Module([fn], []), str(lmms), "exec"), ns)
        scores = [rng.randint(0, 1) for _ in range(50)]
        clusters = [rng.randint(0, 6) for _ in range(50)]
        checks.append(("lmms clustered_stderr", ns["clustered_stderr"](scores, clusters),  # type: ignore[operator]
                       A.clustered_stderr(scores, clusters)))
    for name, theirs, ours in checks:
        print(f"{name:28s} harness {float(theirs):.17g}  evallog {ours:.17g}  |diff| {abs(float(theirs) - ours):.3g}")


if __name__ == "__main__":
    main()
