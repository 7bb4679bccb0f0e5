"""lmms-eval's own command line, its ``dummy`` model given the ``device`` its data-parallel path reads.

Usage: ``torchrun --nproc_per_node N lmms_eval_dp.py <lmms-eval arguments>``.

lmms-eval's evaluator is data-parallel by itself under ``torchrun``: it takes
rank and world size from the launcher's environment, initialises a gloo group
when none exists, strides the documents by rank, and gathers logged samples and
metrics to rank 0 with ``torch.distributed.gather_object``. Its padding step
builds a tensor on ``lm.device``, which the ``dummy`` model lacks
(``AttributeError: 'Dummy' object has no attribute 'device'``); this script
sets it to the CPU. With ``EVALLOG_TEST_SPY_DIR`` set, the object collectives
are recorded (:mod:`collective_spy`).
"""

from __future__ import annotations

import os
import sys

import torch
from lmms_eval.models.simple.dummy import Dummy

Dummy.device = torch.device("cpu")

if os.environ.get("EVALLOG_TEST_SPY_DIR"):
    import collective_spy

    collective_spy.install(os.environ["EVALLOG_TEST_SPY_DIR"])

if __name__ == "__main__":
    from lmms_eval.__main__ import cli_evaluate

    sys.argv[0] = "lmms-eval"
    cli_evaluate()
