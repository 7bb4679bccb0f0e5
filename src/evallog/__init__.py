"""evallog: persist, render, compare and publish LLM / LMM evaluation results.

The package import is kept light: submodules are loaded on first use, and
nothing imports numpy, torch, datasets or huggingface_hub at import time.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from evallog._version import __version__

# public name -> submodule that defines it
_EXPORTS: dict[str, str] = {
    "EvaluationTracker": "evallog.tracker",
    "GeneralConfigTracker": "evallog.tracker",
    "make_table": "evallog.table",
    "render_table": "evallog.render",
    "recover": "evallog.recovery",
    "load_run": "evallog.readers",
    "list_runs": "evallog.readers",
    "Run": "evallog.readers",
    "TaskSamples": "evallog.readers",
    "compare": "evallog.compare",
    "Comparison": "evallog.compare",
    "leaderboard": "evallog.leaderboard",
    "Leaderboard": "evallog.leaderboard",
    "render_report": "evallog.report",
    "push_run": "evallog.hub",
    "verify": "evallog.verify",
    "Verification": "evallog.verify",
    "gate": "evallog.gate",
    "GateReport": "evallog.gate",
    "power_analysis": "evallog.power",
    "Flavor": "evallog.flavors",
    "get_flavor": "evallog.flavors",
    "register_flavor": "evallog.flavors",
    "RunStatus": "evallog.layout",
    "sql": "evallog.query",
    "sql_connect": "evallog.query",
    "export_parquet": "evallog.store",
}
# submodules reachable as attributes without an explicit import
_MODULES = ("errors", "frames")

__all__ = ["__version__", *_MODULES, *sorted(_EXPORTS)]

if TYPE_CHECKING:  # pragma: no cover
    from evallog import errors  # noqa: F401
    from evallog.tracker import EvaluationTracker, GeneralConfigTracker  # noqa: F401


def __getattr__(name: str) -> Any:
    if name in _MODULES:
        return importlib.import_module(f"evallog.{name}")
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'evallog' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
