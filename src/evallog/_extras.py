"""Lazy imports of optional dependencies, with an error naming the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from evallog.errors import MissingExtraError

__all__ = ["require"]


def require(module: str, extra: str, feature: str) -> ModuleType:
    """Import ``module`` or raise :class:`~evallog.errors.MissingExtraError`.

    ``feature`` says what needed it (``"evallog export --to parquet"``) and
    ``extra`` which ``pip install "evallog[extra]"`` provides it.
    """
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingExtraError(
            f"{feature} needs {top}, which is not installed: pip install \"evallog[{extra}]\""
        ) from exc
