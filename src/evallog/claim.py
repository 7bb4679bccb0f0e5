"""A tracker's claim on its run id: the lock, the in-process registry and the manifest.

A claim is taken on the first write of a run and held until the run is
finished (results and every sample file written, no open stream), closed, or
the tracker is garbage-collected (a finalizer releases it). Taking an id that
another live tracker holds, or whose files exist already, moves to the next free
id (the flavor's rule).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from evallog import layout
from evallog.atomic import fsync_dir
from evallog.errors import ConfigError, WriteError
from evallog.flavors import Flavor, TaskHasher
from evallog.layout import Manifest, RunStatus, TaskEntry

__all__ = ["RunClaim", "RunRecord", "move_files"]

logger = logging.getLogger(__name__)


class RunClaim:
    """The lock on ``(folder, run id)`` held by one tracker."""

    def __init__(self) -> None:
        self.held: tuple[Path, str] | None = None
        self.closed = False

    @property
    def active(self) -> bool:
        """Whether this claim holds a lock (the in-process liveness check of :mod:`layout`)."""
        return self.held is not None and not self.closed

    def try_claim(self, folder: Path, run_id: str) -> bool:
        """Take the lock of ``run_id`` in ``folder``; a stale lock is replaced. False if it is held."""
        with layout.HOLDERS_LOCK:
            holder = layout.holder_of(folder, run_id)
            if holder is not None and holder is not self and holder.active:
                return False
            try:
                created = layout.take_lock(folder, run_id)  # a dead process's lock is taken over
            except OSError as exc:
                path = layout.lock_path(folder, run_id).parent
                raise WriteError(f"could not create the run folder: {exc.strerror or exc}", path=path) from exc
            if not created:
                return False
            if self.held is not None:
                self.release()
            self.held = (folder, run_id)
            layout.register_holder(folder, run_id, self)
            return True

    def claim_free_id(
        self,
        folder: Path,
        run_id: str,
        *,
        flavor: Flavor,
        explicit: bool,
        timezone: str | None,
        taken: Callable[[str], bool],
        refuse_foreign: bool = False,
    ) -> str:
        """Claim ``run_id`` in ``folder``, or the next free id; returns the id claimed.

        An id is taken while another live tracker holds its lock, and also after
        that tracker finished if ``taken(id)`` (its files are still there:
        lmms-eval ids have second precision, two runs in the same second must
        not share files). Files that evallog did not write (no manifest) are never
        adopted; with ``refuse_foreign`` (a caller-given id) they raise :class:`ConfigError`.
        """
        base_id, current, attempt = run_id, run_id, 0
        while True:
            if self.try_claim(folder, current):
                if not taken(current):
                    return current
                foreign = not layout.manifest_path(folder, current).exists()
                self.release()
                if foreign and refuse_foreign and current == base_id:
                    raise ConfigError(
                        f"files of run id {current!r} exist in this folder and were not written by "
                        "evallog: choose another run_id (or leave it out)",
                        path=folder,
                    )
            attempt += 1
            new_id = flavor.derived_run_id(base_id, attempt, timezone, explicit=explicit)
            logger.warning("run id %s is already used in %s; using %s", current, folder, new_id)
            current = new_id

    def write_manifest(self, manifest: Manifest) -> Path | None:
        """Write the run's manifest while the claim is held (else nothing)."""
        if self.held is None:
            return None
        return layout.write_manifest(self.held[0], manifest)

    def release(self) -> None:
        """Remove the lock (idempotent; also the finalizer of a dropped tracker)."""
        if self.held is None:
            return
        folder, run_id = self.held
        self.held = None
        layout.remove_lock(folder, run_id)
        layout.register_holder(folder, run_id, None, only_if=self)


@dataclass
class RunRecord:
    """The files a tracker wrote for its run: what its manifest lists."""

    results_path: Path | None = None
    sample_paths: dict[str, Path] = field(default_factory=dict)  # task -> final samples file
    task_hashes: dict[str, str] = field(default_factory=dict)
    task_counts: dict[str, int] = field(default_factory=dict)

    def record(self, task: str, path: Path, hasher: TaskHasher) -> None:
        """A task's samples file is final: its path, task hash and count."""
        self.sample_paths[task] = path
        self.task_hashes[task] = hasher.hexdigest()
        self.task_counts[task] = hasher.count

    def manifest(self, flavor: str, run_id: str, model_name: str | None, status: RunStatus,
                 streaming: list[str]) -> Manifest:
        return Manifest(
            flavor=flavor,
            run_id=run_id,
            model_name=model_name,
            status=status,
            results_file=self.results_path.name if self.results_path else None,
            tasks={
                task: TaskEntry(path.name, self.task_counts.get(task), self.task_hashes.get(task))
                for task, path in self.sample_paths.items()
            },
            streaming=streaming,
        )


def move_files(moves: list[tuple[Path, Path]], on_move: Callable[[Path, Path], None] | None = None) -> None:
    """Rename a run's files (its run id changed); ``on_move(src, dst)`` after each (the remote copy)."""
    for src, dst in moves:
        try:
            os.replace(src, dst)
        except OSError as exc:
            raise WriteError(f"could not rename {src.name} for the new run id: {exc.strerror or exc}", path=src) from exc
        if on_move is not None:
            on_move(src, dst)
    for folder in {dst.parent for _, dst in moves}:
        fsync_dir(folder)
