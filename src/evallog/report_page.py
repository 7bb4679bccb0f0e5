"""The report page's data blocks and assembly: JSON blocks safe inside HTML (optionally gzip+base64),
sample blocks within the size caps, the page template with its CSP hashes, and reading blocks back.

Split from :mod:`evallog.report` (which re-exports the public names).
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import re
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any

import orjson

from evallog.errors import ConfigError
from evallog.report_samples import (  # noqa: F401 - re-exported
    DEFAULT_MAX_TEXT,
    _as_json,
    compact_sample,
    compact_text,
    sample_metrics,
)

_Progress = Callable[[str, int, "int | None"], None]  # evallog.compare.ProgressCallback


def _escape_json_for_html(data: bytes) -> str:
    """JSON text that can sit inside ``<script type="application/json">`` and still parse as the same JSON."""
    return (
        data.decode("utf-8")
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )


def _dumps(value: Any) -> bytes:
    try:
        return orjson.dumps(value, default=str)
    except orjson.JSONEncodeError:  # e.g. a lone surrogate that the stdlib parser let through
        return json.dumps(value, default=str, ensure_ascii=True).encode("ascii")


@dataclass
class _Block:
    run: int
    task: str
    id: str
    payload: str
    encoding: str


class _BlockWriter:
    """Builds one data block's payload record by record, knowing its size in the page as it grows.

    Compressed blocks are gzip streams (base64 in the page), fed record by
    record so that the budget is checked against the real compressed size.
    """

    def __init__(self, compress: bool) -> None:
        self.encoding = "gzip-base64" if compress else "json"
        self._z = zlib.compressobj(6, zlib.DEFLATED, 31) if compress else None  # 31: gzip container
        self._parts: list[bytes] = []
        self._out = 0
        self.json_bytes = 0

    @property
    def page_bytes(self) -> int:
        """Bytes of the block in the page so far (data still buffered by zlib not counted)."""
        return (self._out + 2) // 3 * 4 if self._z is not None else self._out

    def write(self, data: bytes) -> None:
        self.json_bytes += len(data)
        if self._z is not None:
            data = self._z.compress(data)
            self._out += len(data)
        else:
            self._out += len(data) + 5 * (data.count(b"<") + data.count(b">") + data.count(b"&"))
        if data:
            self._parts.append(data)

    def finish(self) -> str:
        if self._z is None:
            return _escape_json_for_html(b"".join(self._parts))
        self._parts.append(self._z.flush())
        return base64.b64encode(b"".join(self._parts)).decode("ascii")


def _hashable(doc_id: Any) -> Any:
    try:
        hash(doc_id)
    except TypeError:
        return _as_json(doc_id)
    return doc_id


def _merge_metrics(metrics: list[str] | None, names: list[str]) -> list[str]:
    """The metric columns so far, extended with a sample's new ones (in place)."""
    if metrics is None:
        return names
    if names != metrics:
        metrics.extend(m for m in names if m not in metrics)
    return metrics


def _sample_block(
    run: Any,
    task: str,
    *,
    max_samples: int,
    budget: int,
    max_text: int,
    compress: bool,
    tick: Callable[[int], None] | None = None,
) -> tuple[_BlockWriter, str, int, int, str | None, int]:
    """The data block of one run and task.

    Returns (writer, payload, records embedded, records seen, cap reason or
    ``None``, corrupt lines skipped). Whole documents are kept: a document's records under every
    filter go in together, documents in file order until ``max_samples``
    records or ``budget`` bytes of page are reached. The block is
    ``{"samples": [...], "metrics": [...], "filters": [...]}``.
    """
    result_metrics = [m for m, _ in run.metrics(task)]
    n_filters = max(1, len(run.filters(task)))
    max_docs = max(1, max_samples // n_filters)
    doc_budget = budget // n_filters

    writer = _BlockWriter(compress)
    writer.write(b'{"samples":[')
    metrics: list[str] | None = None
    filters: list[str] = []
    filter_index: dict[str, int] = {}
    kept_docs: set[Any] = set()
    n = 0
    total = 0
    reason: str | None = None
    samples = run.samples(task, skip_corrupt=True)
    for sample in samples:
        total += 1
        if tick is not None and not total % 1000:
            tick(total)
        doc = _hashable(sample.get("doc_id"))
        if doc not in kept_docs:
            if len(kept_docs) >= max_docs:
                reason = reason or "max_samples"
                continue
            if writer.page_bytes >= doc_budget:
                reason = reason or "max_bytes"
                continue
            kept_docs.add(doc)
        if n >= max_samples:
            reason = reason or "max_samples"
            continue
        name = str(sample.get("filter", "none"))
        if name not in filter_index:
            filter_index[name] = len(filters)
            filters.append(name)
        metrics = _merge_metrics(metrics, sample_metrics(sample, result_metrics))
        rec = compact_sample(sample, metrics=metrics, filter_index=filter_index[name], max_text=max_text)
        writer.write((b"," if n else b"") + _dumps(rec))
        n += 1
    writer.write(b'],"metrics":' + _dumps(metrics or []) + b',"filters":' + _dumps(filters) + b"}")
    return writer, writer.finish(), n, total, reason, samples.skipped


def _tick(progress: _Progress, seen: int) -> Callable[[int], None]:
    """Report samples read so far (``seen`` before this block) as the ``reading samples`` stage."""
    return lambda done: progress("reading samples", seen + done, None)

# --------------------------------------------------------------------------- page assembly

_PLACEHOLDER = re.compile(r"\{\{([A-Z]+)\}\}")


def _asset(name: str) -> str:
    return resources.files("evallog").joinpath("report_assets").joinpath(name).read_text(encoding="utf-8")


def _csp_hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def render_app_page(meta: Mapping[str, Any]) -> tuple[str, str]:
    """The page of ``evallog view``: the report's page whose data comes from the server.

    Returns ``(html, csp)``: the report's policy plus ``connect-src 'self'``
    for the page's requests to the JSON endpoints.
    """
    return _render_page(meta, (), connect=True), _page_csp(connect=True)


def _page_csp(*, connect: bool = False) -> str:
    parts = [
        "default-src 'none'",
        f"script-src {_csp_hash(_asset('report.js'))}",
        f"style-src {_csp_hash(_asset('report.css'))}",
        "img-src data:",
        "base-uri 'none'",
        "form-action 'none'",
    ]
    if connect:
        parts.insert(4, "connect-src 'self'")
    return "; ".join(parts)


def _render_page(meta: Mapping[str, Any], blocks: Sequence[_Block], *, connect: bool = False) -> str:
    css = _asset("report.css")
    js = _asset("report.js")
    for name, text in (("report.css", css), ("report.js", js)):
        if "</" in text:  # would end the inline element early
            raise ConfigError(f"report asset {name} must not contain '</'")
    csp = _page_csp(connect=connect)
    parts = []
    for b in blocks:
        parts.append(
            f'<script type="application/json" id="{b.id}" data-encoding="{b.encoding}">{b.payload}</script>\n'
        )
    values = {
        "CSP": csp,
        "TITLE": html.escape(str(meta["title"])),
        "VERSION": html.escape(str(meta["version"])),
        "CSS": css,
        "JS": js,
        "META": _escape_json_for_html(_dumps(meta)),
        "BLOCKS": "".join(parts),
    }
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], _asset("template.html"))


def iter_blocks(page: str) -> Iterator[tuple[str, str, str]]:
    """``(id, encoding, payload)`` of every data block of a page (for tests and tools)."""
    for m in re.finditer(r'<script type="application/json" id="([^"]+)"(?: data-encoding="([^"]+)")?>(.*?)</script>', page, re.S):
        yield m.group(1), m.group(2) or "json", m.group(3)


def read_block(page: str, block_id: str) -> Any:
    """The decoded JSON of one data block of a page."""
    for bid, encoding, payload in iter_blocks(page):
        if bid == block_id:
            if encoding == "gzip-base64":
                return json.loads(gzip.decompress(base64.b64decode(payload)))
            return json.loads(payload)
    raise KeyError(block_id)
