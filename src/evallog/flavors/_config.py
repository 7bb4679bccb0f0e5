"""The config tracker: the model and prompt settings a run's results file records.

Each flavor has its own dataclass (its harness's fields, in its order) built on
:class:`ConfigTrackerBase`; ``dataclasses.asdict`` of it is merged into the
results document.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any, ClassVar

from evallog.flavors._base import get_flavor, hash_string

__all__ = ["ConfigTrackerBase", "parse_model_args", "model_name_from_args"]


def parse_model_args(model_args: str) -> dict[str, str]:
    """``k=v,k2=v2`` -> dict; commas inside quotes or brackets do not split."""
    result: dict[str, str] = {}
    for piece in _split_top_level(model_args):
        key, sep, value = piece.partition("=")
        if sep:
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
                value = value[1:-1]
            result.setdefault(key.strip(), value)
    return result


def _split_top_level(text: str) -> list[str]:
    depth = 0
    quote = ""
    start = 0
    pieces = []
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "[({":
            depth += 1
        elif ch in "])}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            pieces.append(text[start:i])
            start = i + 1
    pieces.append(text[start:])
    return pieces


def model_name_from_args(model_args: Any, flavor: str) -> str:
    """The model name inside ``model_args`` (a ``k=v,...`` string or a dict); ``""`` if none.

    Unlike the anchors, keys are matched exactly (``base_model=x`` is not
    ``model=x``) and commas inside quotes or brackets do not cut the value.
    """
    if model_args is None:
        return ""
    if isinstance(model_args, Mapping):
        args: Mapping[str, Any] = {str(k): v for k, v in model_args.items()}
    else:
        args = parse_model_args(str(model_args))
    try:
        return get_flavor(flavor).model_name_from_args(args)
    except Exception:  # noqa: BLE001 - an unknown flavor name: lm-eval's keys
        return get_flavor("lm-eval").model_name_from_args(args)


class ConfigTrackerBase:
    """Behaviour shared by every flavor's config tracker."""

    _flavor: ClassVar[str] = "lmms-eval"
    model_source: Any
    system_instruction: str | None
    system_instruction_sha: str | None
    chat_template: str | None
    chat_template_sha: str | None
    fewshot_as_multiturn: bool | None
    total_evaluation_time_seconds: str | None

    def __init__(self) -> None:
        self._perf_start = time.perf_counter()
        self.start_time: float | None = time.time()  # wall-clock epoch seconds (lmms-eval key and type)
        self.end_time: float | None = None
        self.model_args: Any = None
        self.model_name: str | None = None
        self.model_name_sanitized: str | None = None

    def log_experiment_args(
        self,
        model_source: Any,
        model_args: Any,
        system_instruction: str | None,
        chat_template: str | None,
        fewshot_as_multiturn: bool,
    ) -> None:
        """Record the model and prompt settings (``model_args``: ``k=v,...`` string or dict)."""
        from evallog.paths import model_dir_name
        from evallog.redact import redact_text

        if model_source is not None and not isinstance(model_source, str):
            # an LM object: its class, not a repr with a memory address
            model_source = f"{type(model_source).__module__}.{type(model_source).__qualname__}"
        self.model_source = model_source
        self.model_args = model_args
        name = model_name_from_args(model_args, self._flavor)
        if not name and isinstance(model_source, str) and model_source:
            name = model_source.rsplit(".", 1)[-1]
        self.model_name = redact_text(str(name)) if name else "model"  # never a credential (URL userinfo)
        self.model_name_sanitized = model_dir_name(self.model_name, self._flavor)
        self.system_instruction = system_instruction
        self.system_instruction_sha = hash_string(system_instruction) if system_instruction else None
        self.chat_template = chat_template
        self.chat_template_sha = hash_string(chat_template) if chat_template else None
        self.fewshot_as_multiturn = fewshot_as_multiturn

    def dir_name(self) -> str:
        """The model folder name (a stable, non-empty one when log_experiment_args was not called)."""
        from evallog.paths import model_dir_name

        if not self.model_name_sanitized:
            self.model_name = self.model_name or "model"
            self.model_name_sanitized = model_dir_name(self.model_name, self._flavor)
        return self.model_name_sanitized

    def log_end_time(self) -> None:
        """Record the end time and the total evaluation time (a string, as the anchors write it)."""
        self.end_time = time.time()
        self.total_evaluation_time_seconds = str(time.perf_counter() - self._perf_start)
