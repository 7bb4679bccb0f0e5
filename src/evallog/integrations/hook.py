"""The import hook: patch lm-eval / lmms-eval modules as they are imported.

``evallog run`` puts :mod:`evallog.integrations._site` (a ``sitecustomize``)
on ``PYTHONPATH``, so every Python process the harness or its launcher starts
(``accelerate launch``, ``torchrun``, ``python -m ...``) calls :func:`install`
before any harness code runs. The finder wraps the loaders of the harness
modules listed by :mod:`.lm_eval` and :mod:`.lmms_eval`; each module is patched
right after it executed, so ``from lm_eval.loggers import EvaluationTracker``
anywhere afterwards gets evallog's.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Any

__all__ = ["install", "installed"]

_Patch = Callable[[ModuleType], None]


def _patches() -> dict[str, _Patch]:
    from evallog.integrations import lm_eval, lmms_eval

    table: dict[str, _Patch] = {}
    for harness in (lm_eval, lmms_eval):
        for name in harness.MODULES:
            table[name] = harness.patch_module
    return table


class _PatchingLoader(importlib.abc.Loader):
    def __init__(self, loader: Any, patch: _Patch) -> None:
        self._loader = loader
        self._patch = patch

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        create: Any = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: ModuleType) -> None:
        self._loader.exec_module(module)
        self._patch(module)

    def __getattr__(self, name: str) -> Any:  # get_code, get_source, is_package, ...
        return getattr(self._loader, name)


class _Finder(importlib.abc.MetaPathFinder):
    def __init__(self, patches: dict[str, _Patch]) -> None:
        self.patches = patches

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        patch = self.patches.get(fullname)
        if patch is None:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, patch)
                return spec
        return None


def installed() -> bool:
    return any(isinstance(f, _Finder) for f in sys.meta_path)


def install() -> None:
    """Patch the harness modules already imported and those imported from now on (idempotent)."""
    patches = _patches()
    for name, patch in patches.items():
        module = sys.modules.get(name)
        if module is not None:
            patch(module)
    main = sys.modules.get("__main__")
    if main is not None and getattr(main.__spec__, "name", None) == "lmms_eval.__main__":
        patches["lmms_eval.__main__"](main)
    if not installed():
        sys.meta_path.insert(0, _Finder(patches))
