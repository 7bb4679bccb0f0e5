"""Record what this process sends through torch.distributed's object collectives.

``install(folder)`` wraps ``gather_object``, ``all_gather_object``,
``broadcast_object_list`` and ``scatter_object_list``; at exit it writes
``<folder>/rank<R>-<pid>.json``: ``calls`` (per call, the function, the pickled
size of what this rank sent, which is what the collective serialises, and how
many logged samples, dicts with ``doc_id`` and ``resps``, were in it) and
``peak_rss_mib`` (the process's peak resident memory).
"""

from __future__ import annotations

import atexit
import json
import os
import pickle
import resource
from typing import Any

import torch.distributed as dist

# where each collective takes what this rank sends: (position, keyword)
SENT_ARG = {
    "gather_object": (0, "obj"),
    "all_gather_object": (1, "obj"),
    "broadcast_object_list": (0, "object_list"),
    "scatter_object_list": (1, "scatter_object_input_list"),
}


def count_samples(obj: Any) -> int:
    if isinstance(obj, dict):
        if "doc_id" in obj and "resps" in obj:
            return 1
        return sum(count_samples(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(count_samples(v) for v in obj)
    return 0


def install(folder: str) -> None:
    calls: list[dict[str, Any]] = []

    def watch(name: str) -> None:
        original = getattr(dist, name)

        def wrapper(*args: Any, **kwargs: Any) -> Any:
            index, keyword = SENT_ARG[name]
            sent = args[index] if len(args) > index else kwargs.get(keyword)
            wire = pickle.dumps(sent)  # as the collective pickles it (a StreamedSamples: an empty list)
            calls.append({"fn": name, "bytes": len(wire), "samples": count_samples(pickle.loads(wire))})
            return original(*args, **kwargs)

        setattr(dist, name, wrapper)

    for name in SENT_ARG:
        watch(name)

    def dump() -> None:
        rank = os.environ.get("RANK", "0")
        with open(os.path.join(folder, f"rank{rank}-{os.getpid()}.json"), "w") as fh:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
            json.dump({"calls": calls, "peak_rss_mib": round(peak, 1)}, fh)

    atexit.register(dump)
