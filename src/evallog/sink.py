"""The sample sink: sample -> the flavor's record -> redacted -> one encoded line, plus its hash input.

One object per tracker, used by the batch save and by streaming alike, so the
two write byte-identical lines and the same task hashes. Writers downstream see
encoded lines and hash fields only, never the caller's samples nor a flavor.
"""

from __future__ import annotations

import gc
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from evallog.atomic import atomic_writer
from evallog.encoding import LINE_OPTIONS, encode_line, json_default
from evallog.errors import EvallogError, SerializationError
from evallog.flavors import Flavor, TaskHasher
from evallog.redact import record_needs_redaction, redact

__all__ = ["SampleSink"]

_MALFORMED = (TypeError, ValueError, AttributeError, IndexError, KeyError)


class SampleSink:
    """Transform, redact, encode and hash the samples of one run."""

    def __init__(self, flavor: Flavor, *, redact_secrets: bool, strict_json: bool) -> None:
        self.flavor = flavor
        self.redact_secrets = redact_secrets
        self.strict_json = strict_json
        # bound once: encode() runs for every sample
        self._transform = flavor.transform_sample
        self._check_sample = flavor.redaction_checks_sample

    def new_hasher(self) -> TaskHasher:
        return TaskHasher(self.flavor)

    def hash_fields(self, sample: Mapping[str, Any]) -> tuple[str, ...]:
        return self.flavor.hash_fields(sample)

    def encode(self, sample: Mapping[str, Any], task: str, index: int) -> bytes:
        """The line ``sample`` becomes in the flavor's samples file (the hot path)."""
        try:
            record = self._transform(sample)
            if self.redact_secrets and record_needs_redaction(sample if self._check_sample else record):
                record = redact(record)
        except _MALFORMED as exc:
            raise SerializationError(f"malformed sample: {type(exc).__name__}: {exc}", task=task, sample_index=index) from exc
        if self.strict_json:
            try:
                return orjson.dumps(record, default=json_default, option=LINE_OPTIONS)
            except (orjson.JSONEncodeError, TypeError):
                pass  # a value orjson refuses: the slow path below decides
        try:
            return encode_line(record, allow_nan=not self.strict_json)
        except SerializationError as exc:
            raise SerializationError(exc.message, task=task, sample_index=index) from exc.__cause__

    def task_hash(self, samples: Iterable[Mapping[str, Any]]) -> TaskHasher:
        hasher = self.new_hasher()
        for sample in samples:
            hasher.update(sample)
        return hasher

    def write_file(self, path: Path, task: str, samples: Iterable[Mapping[str, Any]], *, fsync: bool) -> TaskHasher:
        """Write every sample's line to ``path`` atomically; the hasher holds count and task hash."""
        hasher = self.new_hasher()
        # the loop allocates only short-lived, acyclic objects: keep the cyclic collector
        # from walking the caller's (possibly huge) sample graph over and over meanwhile
        gc_was_enabled = gc.isenabled()
        gc.disable()
        try:
            with atomic_writer(path, fsync=fsync, task=task) as fh:
                write, encode, update = fh.write, self.encode, hasher.update  # looked up once
                for index, sample in enumerate(samples):
                    write(encode(sample, task, index))
                    update(sample)
        except EvallogError as exc:
            if exc.path is None:
                raise type(exc)(exc.message, path=path, task=task, sample_index=exc.sample_index) from exc.__cause__
            raise
        finally:
            if gc_was_enabled:
                gc.enable()
        return hasher
