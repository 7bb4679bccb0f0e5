"""What a harness's run format is made of: the :class:`Flavor` interface and the flavor registry.

A flavor owns every rule of one harness's files: their names (and parsing them
back), run ids, the per-sample transformation, the task-hash input, the config
tracker class (its fields in the harness's order) and the ``model_args`` keys
naming the model. Adding a harness = one module defining a :class:`Flavor`
subclass + :func:`register_flavor` (see ``lm_eval.py`` and ``lmms_eval.py``).
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Any, ClassVar, Literal

from evallog.errors import ConfigError

__all__ = [
    "IN_PROGRESS_SUFFIX",
    "Flavor",
    "ParsedName",
    "TaskHasher",
    "register_flavor",
    "get_flavor",
    "registered_flavors",
    "parse_name",
    "sniff_flavor",
    "run_timestamp",
    "hash_string",
]


# a samples file being streamed carries this suffix after its final name until its task is closed
IN_PROGRESS_SUFFIX = ".partial"


@dataclass(frozen=True)
class ParsedName:
    """What a file name says about the file."""

    kind: Literal["results", "samples"]
    flavor: str
    run_id: str
    task: str | None = None
    in_progress: bool = False


def hash_string(text: str) -> str:
    """sha256 hex of UTF-8 text (the anchors' ``hash_string``)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def now(timezone: str | None, offset_seconds: int = 0) -> datetime:
    """The time a new run id is made from: local time, or in the IANA zone ``timezone``."""
    if timezone:
        from zoneinfo import ZoneInfo  # stdlib; only loaded when a zone is asked for

        stamp = datetime.now(ZoneInfo(timezone))
    else:
        stamp = datetime.now().astimezone()
    return stamp + timedelta(seconds=offset_seconds)


class Flavor:
    """The run format of one harness. Subclasses set the class attributes and file-name rules."""

    name: ClassVar[str]
    default_repo_name: ClassVar[str]
    # order matters: peft and delta come with pretrained (formats.md §1.3)
    model_name_keys: ClassVar[tuple[str, ...]]
    # the config tracker class (a dataclass whose fields are the harness's, in its order)
    config_tracker_class: ClassVar[type[Any]]
    # final file names: groups ``run_id`` (results), ``run_id`` and ``task`` (samples)
    results_pattern: ClassVar[re.Pattern[str]]
    samples_pattern: ClassVar[re.Pattern[str]]

    # ---- file names
    def results_filename(self, run_id: str) -> str:
        raise NotImplementedError

    def samples_filename(self, task: str, run_id: str) -> str:
        raise NotImplementedError

    def parse_filename(self, name: str) -> ParsedName | None:
        """Parse a final file name of this flavor (no in-progress suffix); ``None`` if not one."""
        m = self.results_pattern.match(name)
        if m:
            return ParsedName("results", self.name, m["run_id"])
        m = self.samples_pattern.match(name)
        if m:
            return ParsedName("samples", self.name, m["run_id"], m["task"])
        return None

    def parse_declared(self, name: str, run_ids: Collection[str]) -> ParsedName | None:
        """Parse a file name whose run id is not of the flavor's own shape but is one of
        ``run_ids`` (the ids a folder's evallog bookkeeping declares); ``None`` if not one."""
        return None

    def json_stem(self, output: Path) -> Path | None:
        """An ``output_path`` that names a results file stem rather than a folder, else ``None``."""
        return None

    def results_path(self, run_dir: Path, run_id: str, stem: Path | None = None) -> Path:
        """Where the results file of ``run_id`` goes (``stem``: see :meth:`json_stem`)."""
        return run_dir / self.results_filename(run_id)

    # ---- run ids
    def new_run_id(self, timezone: str | None = None, offset_seconds: int = 0) -> str:
        raise NotImplementedError

    def run_timestamp(self, run_id: str) -> datetime | None:
        """The naive time encoded in a run id of this flavor, ``None`` if it has none."""
        return None

    def run_id_zone(self) -> tzinfo | None:
        """The zone of the time in this flavor's run ids (``None``: the local time of the machine)."""
        return None

    def derived_run_id(self, base_id: str, attempt: int, timezone: str | None, *, explicit: bool) -> str:
        """The id to try when ``base_id`` is taken (``attempt`` = 1, 2, ...; ``explicit``: a given id)."""
        return self.new_run_id(timezone, offset_seconds=attempt)

    # ---- samples
    def transform_sample(self, sample: Mapping[str, Any]) -> dict[str, Any]:
        """The record written for one sample; ``sample`` is not modified."""
        return dict(sample)

    def hash_fields(self, sample: Mapping[str, Any]) -> tuple[str, ...]:
        """The parts of a sample that go into the task hash."""
        return (f"{sample.get('doc_hash', '')}",)

    def hash_piece(self, fields: tuple[str, ...], index: int) -> str:
        """The text the ``index``-th sample adds to the task hash."""
        return "".join(fields)

    def hash_input(self, sample: Mapping[str, Any], index: int) -> str:
        """``hash_piece(hash_fields(sample), index)`` (flavors inline it: it runs for every sample)."""
        return self.hash_piece(self.hash_fields(sample), index)

    def hash_block(self, fields: Sequence[bytes | memoryview], index: int) -> bytes:
        """The UTF-8 bytes consecutive samples add to the task hash, the first being the ``index``-th;
        ``fields``: each sample's hash field when :meth:`hash_fields` has one, as UTF-8 (the shard
        merge's batch form of ``hash_piece``)."""
        piece = self.hash_piece
        return "".join(piece((bytes(f).decode("utf-8"),), index + i) for i, f in enumerate(fields)).encode("utf-8")

    # ---- model names
    def model_name_from_args(self, args: Mapping[str, Any]) -> str:
        for key in self.model_name_keys:
            value = args.get(key)
            if value not in (None, ""):
                return str(value)
        return ""

    # ---- sniffing
    def sniff(self, names: Iterable[str]) -> int:
        """How many of the file ``names`` are this flavor's (in-progress suffix already removed)."""
        return sum(1 for n in names if self.parse_filename(n) is not None)

    def __repr__(self) -> str:
        return f"<Flavor {self.name}>"


class TaskHasher:
    """Incremental ``task_hashes`` entry, equal to the anchors' batch computation."""

    __slots__ = ("flavor", "count", "_sha", "_input", "_piece")

    def __init__(self, flavor: Flavor | str) -> None:
        self.flavor = get_flavor(flavor) if isinstance(flavor, str) else flavor
        self.count = 0
        self._sha = hashlib.sha256()
        self._input = self.flavor.hash_input  # bound once: this runs for every sample
        self._piece = self.flavor.hash_piece

    def update(self, sample: Mapping[str, Any]) -> None:
        self._sha.update(self._input(sample, self.count).encode("utf-8"))
        self.count += 1

    def update_inputs(self, inputs: Sequence[bytes]) -> None:
        """Consecutive samples given by their ``hash_input`` as UTF-8 (one digest update for many)."""
        self._sha.update(b"".join(inputs))
        self.count += len(inputs)

    def update_fields(self, fields: tuple[str, ...]) -> None:
        self._sha.update(self._piece(fields, self.count).encode("utf-8"))
        self.count += 1

    def update_block(self, fields: Sequence[bytes | memoryview]) -> None:
        """Consecutive samples given by their single hash field's UTF-8 bytes (``Flavor.hash_block``)."""
        self._sha.update(self.flavor.hash_block(fields, self.count))
        self.count += len(fields)

    def hexdigest(self) -> str:
        return self._sha.hexdigest()


# ------------------------------------------------------------------ registry
_REGISTRY: dict[str, Flavor] = {}


def register_flavor(flavor: Flavor, *, replace: bool = False) -> Flavor:
    """Make ``flavor`` available by name, to parsing and to sniffing (in registration order)."""
    if flavor.name in _REGISTRY and not replace and _REGISTRY[flavor.name] is not flavor:
        raise ConfigError(f"a flavor named {flavor.name!r} is registered already")
    _REGISTRY[flavor.name] = flavor
    return flavor


def unregister_flavor(name: str) -> None:
    _REGISTRY.pop(name, None)


def registered_flavors() -> tuple[Flavor, ...]:
    """Every registered flavor, in the order file names are tried."""
    return tuple(_REGISTRY.values())


def get_flavor(name: str | Flavor) -> Flavor:
    """The flavor named ``name`` (a :class:`Flavor` is returned as is)."""
    if isinstance(name, Flavor):
        return name
    flavor = _REGISTRY.get(name)
    if flavor is None:
        raise ConfigError(f"flavor must be one of {', '.join(_REGISTRY)}, not {name!r}")
    return flavor


def parse_name(name: str, run_ids: Collection[str] = ()) -> ParsedName | None:
    """Parse a final file name of any registered flavor (tried in registration order).

    ``run_ids``: the run ids the folder declares (:meth:`Flavor.parse_declared`),
    tried first: a declared id decides how a name splits into task and run id.
    """
    if run_ids:
        for flavor in _REGISTRY.values():
            parsed = flavor.parse_declared(name, run_ids)
            if parsed is not None:
                return parsed
    for flavor in _REGISTRY.values():
        parsed = flavor.parse_filename(name)
        if parsed is not None:
            return parsed
    return None


def run_timestamp(run_id: str) -> datetime | None:
    """The naive time encoded in a run id of any registered flavor (tried in order), or ``None``."""
    for flavor in _REGISTRY.values():
        stamp = flavor.run_timestamp(run_id)
        if stamp is not None:
            return stamp
    return None


def sniff_flavor(path: str | os.PathLike[str]) -> Flavor | None:
    """The flavor of a results/samples file, or the flavor most files of a folder belong to."""
    path = Path(path)
    if path.is_file():
        names = [path.name]
    elif path.is_dir():
        names = [e.name for e in os.scandir(path) if e.is_file() and not e.name.startswith(".")]
    else:
        return None
    names = [n[: -len(IN_PROGRESS_SUFFIX)] if n.endswith(IN_PROGRESS_SUFFIX) else n for n in names]
    best, best_count = None, 0
    for flavor in _REGISTRY.values():
        count = flavor.sniff(names)
        if count > best_count:
            best, best_count = flavor, count
    return best
