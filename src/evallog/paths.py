"""Safe folder and file names under ``output_path``.

No model or task name can place a file outside the output folder: path
separators, NUL and control characters are replaced, ``.``/``..`` and hidden
names are neutralised, over-long names are shortened with a hash suffix, and
the final path is checked to lie inside the output folder.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

from evallog.errors import UnsafePathError
from evallog.naming import sanitize_model_name

__all__ = ["model_dir_name", "safe_task_component", "ensure_inside"]

logger = logging.getLogger(__name__)

_MAX_COMPONENT_BYTES = 200
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
_SPECIAL_RE = re.compile(r'["<>:|\\?*\[\]]|//')


def _short_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _shorten(name: str, original: str) -> str:
    if len(name.encode("utf-8", "surrogatepass")) <= _MAX_COMPONENT_BYTES:
        return name
    cut = name.encode("utf-8", "surrogatepass")[:150].decode("utf-8", "ignore")
    return f"{cut}-{_short_hash(original)}"


def _neutralise(name: str) -> str:
    name = _CONTROL_RE.sub("_", name)
    name = name.replace("/", "__").replace("\\", "__")
    if name.startswith("."):
        name = "_" + name[1:]
    return name or "_"


def model_dir_name(model_name: str, flavor: str) -> str:
    """The model folder name: the anchors' sanitizing, made injective and safe.

    HF ids (``org/model``) give the anchors' names (``org__model``). Where the
    anchors' rule loses information (lmms-eval keeps only the last two path
    components; special characters collapse), a short hash of the full name is
    appended so that different models never share a folder.
    """
    if not model_name:
        return "model"
    base = sanitize_model_name(model_name, flavor)
    parts = [p for p in model_name.split("/") if p]
    lossy = bool(_SPECIAL_RE.search(model_name)) or (flavor == "lmms-eval" and len(parts) > 2)
    if lossy:
        base = f"{base}-{_short_hash(model_name)}"
    base = _neutralise(base)
    return _shorten(base, model_name)


def safe_task_component(task: str) -> str:
    """The task name as it appears inside a file name (verbatim when it is safe)."""
    safe = _shorten(_CONTROL_RE.sub("_", task).replace("/", "__").replace("\\", "__") or "_", task)
    if safe != task:
        logger.warning("task name %r is not safe in a file name; using %r", task, safe)
    return safe


def ensure_inside(root: Path, path: Path, *, task: str | None = None) -> Path:
    """Raise :class:`UnsafePathError` unless ``path`` lies inside ``root``."""
    root_resolved = root.resolve()
    resolved = path.resolve()
    if resolved != root_resolved and root_resolved not in resolved.parents:
        raise UnsafePathError("refusing to write outside the output folder", path=path, task=task)
    return path
