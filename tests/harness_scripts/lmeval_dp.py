"""lm-eval's own command line, with one model added and the object collectives watched.

Usage: ``[torchrun --nproc_per_node N] lmeval_dp.py <lm_eval arguments>`` (the same
arguments as ``lm_eval``; the command runs ``lm_eval.__main__.cli_evaluate``).

The model ``hf-cpu-dp`` is lm-eval's ``HFLM`` (``--model hf``) made data-parallel
on CPU. HFLM takes its data-parallel rank and world size only when it counts more
than one CUDA/NPU/XPU/HPU device (``gpus > 1`` in ``lm_eval/models/huggingface.py``),
and then uses its ``Accelerator`` for ``all_gather`` and ``barrier``. On CPU under
``torchrun`` that Accelerator reports ``DistributedType.NO`` / one process although
the torch.distributed group of all processes is initialised, so HFLM keeps rank 0
of 1 in every process and each process evaluates every document. This subclass
takes rank and world size from that torch.distributed group and does
``all_gather`` / ``barrier`` through it (gloo); nothing else changes. The
evaluator is lm-eval's: it strides the documents by rank, pads the requests
through ``lm.all_gather`` and gathers logged samples and metrics to rank 0 with
``torch.distributed.gather_object`` (HFLM's own ``gather_object``). In one
process the model is exactly ``hf``.

With ``EVALLOG_TEST_SPY_DIR`` set, the object collectives of the process are
recorded (:mod:`collective_spy`).
"""

from __future__ import annotations

import os
import sys
from typing import Any

import torch
import torch.distributed as dist
from lm_eval.api.registry import register_model
from lm_eval.models.huggingface import HFLM


@register_model("hf-cpu-dp")
class CpuDataParallelHFLM(HFLM):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self._world_size == 1 and dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            self._rank = dist.get_rank()
            self._world_size = dist.get_world_size()

    def all_gather(self, tensor: torch.Tensor) -> torch.Tensor:
        if self.world_size <= 1:
            return tensor
        one = tensor if tensor.ndim else tensor[None]
        parts = [torch.zeros_like(one) for _ in range(self.world_size)]
        dist.all_gather(parts, one)
        return torch.cat(parts)

    def barrier(self) -> None:
        if self.world_size > 1:
            dist.barrier()


if os.environ.get("EVALLOG_TEST_SPY_DIR"):
    import collective_spy

    collective_spy.install(os.environ["EVALLOG_TEST_SPY_DIR"])

if __name__ == "__main__":
    from lm_eval.__main__ import cli_evaluate

    sys.argv[0] = "lm_eval"
    cli_evaluate()
