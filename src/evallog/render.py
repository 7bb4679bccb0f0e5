"""Render a table of raw Python values as Markdown, LaTeX, CSV, HTML or JSON.

This is the one place where evallog turns numbers into text, so every table
it prints (``make_table``, leaderboards, ...) formats them the same way::

    render_table(headers, rows, fmt="markdown", *, numeric=None, title=None) -> str

``headers``
    Column titles (strings; may be empty).
``rows``
    A list of rows, each a list with one raw cell per header. Cells are
    ``None`` (blank), ``str`` (printed as is), ``int`` / ``float`` (numpy
    scalars are accepted too), ``bool``, or anything else (printed with
    ``str()``). Never pre-format numbers: pass them raw.
``fmt``
    One of :data:`FORMATS`: ``"markdown"``, ``"latex"``, ``"csv"``, ``"html"``,
    ``"json"``.
``numeric``
    One flag per column saying whether it is right-aligned (Markdown
    separator ending with ``:``, LaTeX ``r`` column, HTML right alignment).
    ``None`` guesses: a column is numeric when it holds at least one number and
    every other cell is blank or one of :data:`NA_STRINGS`.
``title``
    Optional caption: a line above the Markdown table, ``\\caption`` in LaTeX,
    ``<caption>`` in HTML; ignored by CSV and JSON.

How cells print (the same in every table, whatever the rest of the column
holds):

============  ====================  ===================  ==================
cell          markdown/latex/html   csv                  json
============  ====================  ===================  ==================
``None``      blank                 empty field          ``null``
float         ``0.4567`` (4 dec.)   ``0.45671234`` (all  number
                                    digits, round-trips)
NaN / ±inf    ``NaN`` / ``inf``     ``NaN`` / ``inf``    ``null``
int           ``14``                ``14``               number
bool          ``True``/``False``    ``True``/``False``   ``true``/``false``
str           as is                 as is                string
other         ``str(value)``        ``str(value)``       ``str(value)``
============  ====================  ===================  ==================

CSV is RFC 4180 (fields holding ``,``, ``"``, CR or LF are quoted, ``"`` is
doubled; lines end with LF) and safe to open in a spreadsheet: a text cell
starting with ``=``, ``+``, ``-``, ``@``, a tab or CR (a formula, for Excel,
LibreOffice and Google Sheets) gets a leading ``'``, unless it is a number
(``-0.5``); numeric cells are never changed.

Markdown follows the look of lm-eval's and lmms-eval's tables: pipes with no
padding margin, centered headers, numeric columns right-aligned and marked by
a ``:`` at the end of the separator, column width at least 3, widths measured
in terminal cells (East-Asian wide and full-width characters count 2,
combining marks 0) so CJK names align. ``|`` inside a cell is escaped and
newlines become spaces. Every format's text ends with a newline.

LaTeX is a ``booktabs`` table (``\\usepackage{booktabs}``): special
characters are escaped, ``±``/``↑``/``↓`` become math symbols and leading
spaces of a cell (hierarchy indentation) are kept as ``~``. JSON is a list of
records keyed by header (strict JSON; a repeated header gets a ``_2``,
``_3``... suffix).
"""

from __future__ import annotations

import math
import numbers
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from evallog.errors import ConfigError

__all__ = ["FORMATS", "NA_STRINGS", "render_table", "format_cell", "display_width"]

FORMATS: tuple[str, ...] = ("markdown", "latex", "csv", "html", "json")

# strings that do not stop a column from being guessed numeric
NA_STRINGS: frozenset[str] = frozenset({"", "N/A", "NaN", "nan", "-", "inf", "-inf"})


# ---------------------------------------------------------------- cell values


def _normalize(value: Any) -> Any:
    """Map numpy and other numeric scalars to int/float; leave the rest alone."""
    if value is None or isinstance(value, (str, bool, int, float)):
        return value
    if isinstance(value, numbers.Integral):
        if type(value).__name__.startswith("bool"):  # numpy.bool_
            return bool(value)
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if type(value).__name__ in ("bool_", "bool"):  # numpy.bool_ is not Integral
        return bool(value)
    return value


def _float_text(value: float, full: bool) -> str:
    if value != value:
        return "NaN"
    if value in (math.inf, -math.inf):
        return "inf" if value > 0 else "-inf"
    return repr(value) if full else f"{value:.4f}"


def format_cell(value: Any, fmt: str = "markdown") -> str:
    """The text of one cell in a text format (not escaped). See the module doc."""
    full = fmt == "csv"
    t = type(value)
    if t is float:
        return _float_text(value, full)
    if t is str:
        return str(value)
    if value is None:
        return ""
    if t is int or t is bool:
        return str(value)
    value = _normalize(value)
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _float_text(value, full)
    return str(value)


def _is_number(value: Any) -> bool:
    t = type(value)
    if t is float or t is int:
        return True
    if t is bool or value is None or t is str:
        return False
    v = _normalize(value)
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _guess_numeric(rows: Sequence[Sequence[Any]], ncols: int) -> list[bool]:
    flags = []
    for j in range(ncols):
        seen_number = False
        ok = True
        for row in rows:
            v = row[j]
            if v is None:
                continue
            if _is_number(v):
                seen_number = True
            elif not (isinstance(v, str) and v.strip() in NA_STRINGS):
                ok = False
                break
        flags.append(ok and seen_number)
    return flags


# -------------------------------------------------------------------- widths

_WIDTH_CACHE: dict[str, int] = {}


def display_width(text: str) -> int:
    """Width of ``text`` in terminal cells (wide/full-width 2, combining 0)."""
    if text.isascii():
        return len(text)
    cached = _WIDTH_CACHE.get(text)
    if cached is not None:
        return cached
    width = 0
    for ch in text:
        if ch.isascii():
            width += 1
        elif unicodedata.combining(ch) or unicodedata.category(ch) in ("Mn", "Me", "Cf"):
            continue
        elif unicodedata.east_asian_width(ch) in ("W", "F"):
            width += 2
        else:
            width += 1
    if len(_WIDTH_CACHE) < 4096:
        _WIDTH_CACHE[text] = width
    return width


# ------------------------------------------------------------------ renderers


def _one_line(text: str) -> str:
    """Control characters and line/paragraph separators become spaces."""
    if text.isprintable():
        return text
    return "".join(" " if unicodedata.category(ch) in ("Cc", "Zl", "Zp") else ch for ch in text.replace("\r\n", " "))


def _md_cell(value: Any) -> tuple[str, int]:
    """Markdown text of a cell and its width in terminal cells."""
    t = type(value)
    if t is str:
        text = value
    elif t is float:
        text = _float_text(value, False)
    elif value is None:
        return "", 0
    else:
        text = format_cell(value, "markdown")
    if text.isascii() and text.isprintable():
        if "|" in text:
            text = text.replace("|", "\\|")
        return text, len(text)
    text = _one_line(text)
    if "|" in text:
        text = text.replace("|", "\\|")
    return text, display_width(text)


def _render_markdown(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: list[bool], title: str | None) -> str:
    ncols = len(headers)
    head = [_md_cell(h) for h in headers]
    memo: dict[str, tuple[str, int]] = {}  # names, filters, metrics repeat a lot

    def cell(value: Any) -> tuple[str, int]:
        if type(value) is str:
            hit = memo.get(value)
            if hit is None:
                hit = memo[value] = _md_cell(value)
            return hit
        return _md_cell(value)

    body = [[cell(v) for v in row] for row in rows]
    widths = [max(3, head[j][1], *(row[j][1] for row in body)) for j in range(ncols)]

    out = [f"{title}\n\n"] if title else []
    parts = []
    for (h, hw), w in zip(head, widths):
        left = (w - hw) // 2
        parts.append(" " * left + h + " " * (w - hw - left))
    out.append("|" + "|".join(parts) + "|\n")
    out.append("|" + "|".join(("-" * (w - 1) + ":") if num else "-" * w for w, num in zip(widths, numeric)) + "|\n")
    spec = list(zip(widths, numeric))
    for row in body:
        out.append(
            "|"
            + "|".join(
                (" " * (w - cw) + s) if num else (s + " " * (w - cw)) for (s, cw), (w, num) in zip(row, spec)
            )
            + "|\n"
        )
    return "".join(out)


_LATEX_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
    "|": r"\textbar{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "±": r"$\pm$",
    "↑": r"$\uparrow$",
    "↓": r"$\downarrow$",
    "\n": " ",
    "\r": " ",
}
_LATEX_TRANS = str.maketrans(_LATEX_SPECIAL)


def latex_escape(text: str) -> str:
    """Escape ``text`` for LaTeX; leading spaces (indentation) become ``~``."""
    stripped = text.lstrip(" ")
    indent = len(text) - len(stripped)
    return "~" * indent + stripped.translate(_LATEX_TRANS)


def _render_latex(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: list[bool], title: str | None) -> str:
    spec = "".join("r" if n else "l" for n in numeric)
    out = ["\\begin{table}[ht]\n", "\\centering\n"]
    if title:
        out.append(f"\\caption{{{latex_escape(title)}}}\n")
    out.append(f"\\begin{{tabular}}{{{spec}}}\n")
    out.append("\\toprule\n")
    out.append(" & ".join(latex_escape(h) for h in headers) + " \\\\\n")
    out.append("\\midrule\n")
    for row in rows:
        out.append(" & ".join(latex_escape(format_cell(v, "latex")) for v in row) + " \\\\\n")
    out.append("\\bottomrule\n")
    out.append("\\end{tabular}\n")
    out.append("\\end{table}\n")
    return "".join(out)


def _render_html(headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: list[bool], title: str | None) -> str:
    from html import escape

    right = ' style="text-align: right"'
    out = ["<table>\n"]
    if title:
        out.append(f"  <caption>{escape(title)}</caption>\n")
    out.append("  <thead>\n    <tr>")
    out.extend(f"<th{right if n else ''}>{escape(h)}</th>" for h, n in zip(headers, numeric))
    out.append("</tr>\n  </thead>\n  <tbody>\n")
    for row in rows:
        out.append("    <tr>")
        out.extend(
            f"<td{right if n else ''}>{escape(format_cell(v, 'html'))}</td>" for v, n in zip(row, numeric)
        )
        out.append("</tr>\n")
    out.append("  </tbody>\n</table>\n")
    return "".join(out)


# spreadsheet formula injection (README "CSV"): a text cell starting with one of these is
# written with a leading ' so that spreadsheets show it as text; numbers are left alone
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")


def _csv_field(text: str, *, is_text: bool) -> str:
    """One field, RFC 4180: quoted when it holds ``,``, ``"``, CR or LF, quotes doubled."""
    text = text.replace("\x00", "\ufffd")
    if is_text and text.startswith(_FORMULA_STARTS) and _NUMBER_TEXT.fullmatch(text) is None:
        text = "'" + text
    if any(c in text for c in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def _render_csv(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    lines = [",".join(_csv_field(str(h), is_text=True) for h in headers)]
    for row in rows:
        lines.append(
            ",".join(
                _csv_field(format_cell(v, "csv"), is_text=not isinstance(v, (numbers.Number, type(None))))
                for v in row
            )
        )
    return "\n".join(lines) + "\n"


def _json_value(value: Any) -> Any:
    t = type(value)
    if t is float:
        return value if math.isfinite(value) else None
    if value is None or t is str or t is int or t is bool:
        return value
    value = _normalize(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (bool, int, str)):
        return value
    return str(value)


def _unique_keys(headers: Sequence[str]) -> list[str]:
    keys: list[str] = []
    seen: set[str] = set()
    for h in headers:
        key, n = h, 1
        while key in seen:
            n += 1
            key = f"{h}_{n}"
        seen.add(key)
        keys.append(key)
    return keys


def _render_json(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    import json

    keys = _unique_keys(headers)
    records = [{k: _json_value(v) for k, v in zip(keys, row)} for row in rows]
    return json.dumps(records, ensure_ascii=False, indent=2, allow_nan=False) + "\n"


def render_table(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fmt: str = "markdown",
    *,
    numeric: Sequence[bool] | None = None,
    title: str | None = None,
) -> str:
    """Render ``rows`` under ``headers`` in ``fmt``; see the module docstring.

    Raises :class:`~evallog.errors.ConfigError` for an unknown ``fmt`` or a
    row / ``numeric`` whose length differs from ``headers``.
    """
    if fmt not in FORMATS:
        raise ConfigError(f"unknown table format {fmt!r}; choose one of {', '.join(FORMATS)}")
    ncols = len(headers)
    for i, row in enumerate(rows):
        if len(row) != ncols:
            raise ConfigError(f"row {i} has {len(row)} cells for {ncols} headers")
    if fmt == "csv":
        return _render_csv(headers, rows)
    if fmt == "json":
        return _render_json(headers, rows)
    if numeric is None:
        flags = _guess_numeric(rows, ncols)
    else:
        flags = [bool(n) for n in numeric]
        if len(flags) != ncols:
            raise ConfigError(f"numeric has {len(flags)} flags for {ncols} headers")
    if fmt == "markdown":
        return _render_markdown(headers, rows, flags, title)
    if fmt == "latex":
        return _render_latex(headers, rows, flags, title)
    return _render_html(headers, rows, flags, title)
