"""Where this process stands in a data-parallel group: its rank and the world size.

Precedence (first that says something wins):

1. the ``rank`` / ``world_size`` keywords given to the tracker;
2. ``torch.distributed``, when it is initialised (torch is never imported here:
   only consulted if the program imported it already);
3. the launchers' environment: ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``
   (torchrun, ``accelerate launch``, deepspeed, Slurm scripts) and the MPI
   variables accelerate also reads (Open MPI, MPICH/Intel MPI, MVAPICH);
4. one process: rank 0 of 1.

Nothing here talks to other processes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass

from evallog.errors import ConfigError

__all__ = ["RankInfo", "detect_rank"]

# (rank, world size, local rank) variables, in accelerate's order of preference
_ENV_SETS: tuple[tuple[str, str, str], ...] = (
    ("RANK", "WORLD_SIZE", "LOCAL_RANK"),
    ("OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE", "OMPI_COMM_WORLD_LOCAL_RANK"),
    ("PMI_RANK", "PMI_SIZE", "MPI_LOCALRANKID"),
    ("MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE", "MV2_COMM_WORLD_LOCAL_RANK"),
)


@dataclass(frozen=True)
class RankInfo:
    """This process's place in the group."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    source: str = "default"  # "keywords", "torch.distributed", an env variable name, "default"

    @property
    def distributed(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def _from_torch() -> RankInfo | None:
    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = getattr(torch, "distributed", None)
    try:
        if dist is None or not dist.is_available() or not dist.is_initialized():
            return None
        rank, world = int(dist.get_rank()), int(dist.get_world_size())
    except (RuntimeError, ValueError, AttributeError):
        return None
    local = _int_env(os.environ, "LOCAL_RANK")
    return RankInfo(rank, world, local if local is not None else rank, "torch.distributed")


def _int_env(env: Mapping[str, str], name: str) -> int | None:
    raw = env.get(name)
    if raw is None or not raw.strip():
        return None
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"environment variable {name}={raw!r} is not an integer") from exc


def _from_env(env: Mapping[str, str]) -> RankInfo | None:
    for rank_var, world_var, local_var in _ENV_SETS:
        world = _int_env(env, world_var)
        rank = _int_env(env, rank_var)
        if world is None or rank is None:
            continue
        local = _int_env(env, local_var)
        return RankInfo(rank, world, local if local is not None else rank, rank_var)
    return None


def _checked(info: RankInfo) -> RankInfo:
    if info.world_size < 1 or not 0 <= info.rank < info.world_size:
        raise ConfigError(f"rank {info.rank} is not inside a world of {info.world_size} processes ({info.source})")
    return info


def detect_rank(
    rank: int | None = None, world_size: int | None = None, env: Mapping[str, str] | None = None
) -> RankInfo:
    """The rank and world size of this process (see the module docstring for the precedence).

    Giving only ``rank`` or only ``world_size`` takes the other from the
    detected group (or 0 / 1).
    """
    detected = _from_torch() or _from_env(os.environ if env is None else env) or RankInfo()
    if rank is None and world_size is None:
        return _checked(detected)
    r = detected.rank if rank is None else int(rank)
    w = detected.world_size if world_size is None else int(world_size)
    local = detected.local_rank if detected.source != "default" else r
    return _checked(RankInfo(r, w, local, "keywords"))
