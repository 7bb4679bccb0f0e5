"""The sample sink: sample -> the flavor's record -> redacted -> one encoded line, plus its hash input.

One object per tracker, used by the batch save and by streaming alike, so the
two write byte-identical lines and the same task hashes. Writers downstream see
encoded lines and hash fields only, never the caller's samples nor a flavor.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import orjson

from evallog.atomic import atomic_writer, gc_paused
from evallog.encoding import LINE_OPTIONS, encode_document, encode_line, json_default
from evallog.errors import EvallogError, SerializationError
from evallog.flavors import Flavor, TaskHasher
from evallog.precheck import line_hints, line_is_clean, record_needs_redaction
from evallog.precheck import prepare as prepare_precheck
from evallog.redact import redact

__all__ = ["SampleSink"]

_HASH_CHUNK = 2048  # samples whose hash inputs go into the digest at once


def _malformed(exc: BaseException, task: str, index: int) -> SerializationError:
    """The typed error for a sample whose own objects raised ``exc`` (any exception)."""
    if isinstance(exc, EvallogError):
        if exc.task is not None:
            return SerializationError(exc.message, path=exc.path, task=exc.task, sample_index=exc.sample_index)
        return SerializationError(exc.message, task=task, sample_index=index)
    return SerializationError(f"malformed sample: {type(exc).__name__}: {exc}", task=task, sample_index=index)


class SampleSink:
    """Transform, redact, encode and hash the samples of one run."""

    def __init__(self, flavor: Flavor, *, redact_secrets: bool, strict_json: bool) -> None:
        self.flavor = flavor
        self.redact_secrets = redact_secrets
        self.strict_json = strict_json
        # bound once: encode() runs for every sample
        self._transform = flavor.transform_sample
        if redact_secrets:  # the scanner's one-time set-up here, not in the first save at the end of a run
            prepare_precheck()

    def new_hasher(self) -> TaskHasher:
        return TaskHasher(self.flavor)

    def hash_fields(self, sample: Mapping[str, Any], task: str = "", index: int = 0) -> tuple[str, ...]:
        """The sample's task-hash input (a sample that cannot be hashed: :class:`SerializationError`)."""
        try:
            return self.flavor.hash_fields(sample)
        except Exception as exc:  # noqa: BLE001 - the sample's own objects may raise anything
            raise _malformed(exc, task, index) from exc

    def encode(self, sample: Mapping[str, Any], task: str, index: int) -> bytes:
        """The line ``sample`` becomes in the flavor's samples file (the hot path).

        Redaction: the record is encoded first; a line the quick check clears (no needle outside
        the usual safe keys: most lines) is written as it is; otherwise :func:`line_hints` looks
        for a hint of a credential in it, and only then is the record walked exactly, redacted
        and encoded again. Any exception the sample's objects raise becomes a
        :class:`SerializationError` naming the task and the sample.
        """
        try:
            record = self._transform(sample)
            line = self._encode_record(record, task, index)
            if self.redact_secrets and not line_is_clean(line):
                return self._redacted(record, line, task, index)
            return line
        except Exception as exc:  # noqa: BLE001 - the sample's own objects may raise anything
            raise _malformed(exc, task, index) from exc

    def _redacted(self, record: Any, line: bytes, task: str, index: int) -> bytes:
        """``line`` (``record`` encoded), or the redacted record's line if the pre-check says it may differ."""
        hints = line_hints(line)
        if hints and record_needs_redaction(record, hints):
            return self._encode_record(redact(record), task, index)
        return line

    def _encode_record(self, record: Any, task: str, index: int) -> bytes:
        if self.strict_json:
            try:
                return orjson.dumps(record, default=json_default, option=LINE_OPTIONS)
            except (orjson.JSONEncodeError, TypeError):
                pass  # a value orjson refuses: the slow path below decides
        try:
            return encode_line(record, allow_nan=not self.strict_json)
        except SerializationError as exc:
            raise SerializationError(exc.message, task=task, sample_index=index) from exc.__cause__

    def encode_results(self, path: Path, build: Callable[[], dict[str, Any]]) -> bytes:
        """The results file's bytes of the document ``build()`` returns, redacted: any exception of
        the caller's objects (hashing, redaction, encoding) becomes a :class:`SerializationError`
        naming ``path`` (and the task and sample when known)."""
        try:
            document = build()
            if self.redact_secrets:
                document = redact(document)
            return encode_document(document, allow_nan=not self.strict_json)
        except EvallogError as exc:
            raise SerializationError(exc.message, path=path, task=exc.task, sample_index=exc.sample_index) from exc
        except Exception as exc:  # noqa: BLE001 - the caller's objects may raise anything
            raise SerializationError(f"malformed results: {type(exc).__name__}: {exc}", path=path) from exc

    def task_hash(self, samples: Iterable[Mapping[str, Any]], task: str = "") -> TaskHasher:
        hasher = self.new_hasher()
        hash_input, inputs = self.flavor.hash_input, list[bytes]()
        for index, sample in enumerate(samples):
            try:
                inputs.append(hash_input(sample, index).encode("utf-8"))
            except Exception as exc:  # noqa: BLE001 - the sample's own objects may raise anything
                raise _malformed(exc, task, index) from exc
            if len(inputs) == _HASH_CHUNK:
                hasher.update_inputs(inputs)
                inputs.clear()
        hasher.update_inputs(inputs)
        return hasher

    def write_file(self, path: Path, task: str, samples: Iterable[Mapping[str, Any]], *, fsync: bool) -> TaskHasher:
        """Write every sample's line to ``path`` atomically; the hasher holds count and task hash."""
        hasher = self.new_hasher()
        try:
            with gc_paused(), atomic_writer(path, fsync=fsync, task=task) as fh:
                write, encode, hash_input = fh.write, self.encode, self.flavor.hash_input  # looked up once
                inputs: list[bytes] = []  # hash inputs not yet in the digest (one update per chunk)
                for index, sample in enumerate(samples):
                    line = encode(sample, task, index)
                    try:  # before the write: a sample that cannot be hashed is not written
                        inputs.append(hash_input(sample, index).encode("utf-8"))
                    except Exception as exc:  # noqa: BLE001 - the sample's own objects may raise anything
                        raise _malformed(exc, task, index) from exc
                    write(line)
                    if len(inputs) == _HASH_CHUNK:
                        hasher.update_inputs(inputs)
                        inputs.clear()
                hasher.update_inputs(inputs)
        except EvallogError as exc:
            if exc.path is None:
                raise type(exc)(exc.message, path=path, task=task, sample_index=exc.sample_index) from exc.__cause__
            raise
        return hasher
