"""JCAMP-DX (4.24, 5.x) mass spectra, spectrum libraries and GC-MS runs.

A JCAMP-DX file is a sequence of labelled data records (LDRs), ``##LABEL= value``; a
block runs from ``##TITLE=`` to ``##END=``, and a ``LINK`` block holds several blocks
(McDonald & Wilks 1988, Appl. Spectrosc. 42:151; Lampen et al. 1994, Appl. Spectrosc.
48:1545 for mass spectrometry). Labels compare without case, spaces, dashes, slashes
and underscores (``##VAR__NAME`` is ``##VAR NAME``); ``$$`` starts a comment.

What this module reads:

* **Runs** (:func:`read`): the ``NTUPLES`` form, one ``##PAGE= T=<time>`` per scan with a
  ``##DATA TABLE= (XY..XY), PEAKS`` (times in the ``##UNITS`` the NTUPLES declares for
  the page variable); the page-per-scan form without ``NTUPLES`` that OpenChrom and
  others write (``##PAGE= T=``, ``##RETENTION_TIME=``, ``##XYDATA=``; times in seconds,
  OpenChrom's unit); and a ``LINK`` file with one block per scan, each holding a
  retention time. A file that ends inside its ``NTUPLES`` (no ``##END NTUPLES=``), or
  whose last page is cut short, is truncated: :func:`read` refuses it unless
  ``allow_truncated=True``, which keeps the complete scans and says so in
  ``metadata.extra["truncated"]``.
* **Spectra** (:func:`read_entries`): every mass-spectrum block or page, as peak tables
  (``(XY..XY)``, ``(XYW..XYW)``, ``(XYM..XYM)``) or ``##XYDATA= (X++(Y..Y))`` in AFFN or
  any ASDF compression (SQZ, DIF, DUP, PAC, FIX; the DIF y-check and the abscissa check
  of each line verified, the point count checked against ``##NPOINTS``), scaled by
  ``##XFACTOR``/``##YFACTOR``. Names from ``##CAS NAME``, else the first of ``##NAMES``
  (the others are synonyms), else ``##TITLE``, else ``"<file stem> block <n>"``;
  ``##CAS REGISTRY NO``, ``##MOLFORM`` (``C7 H5 N3 O6`` is ``C7H5N3O6``), ``##MW``,
  ``##$RETENTION INDEX``; every other one-line LDR goes to ``extra`` under its label as
  written (``$NIST MASS SPEC NO``...).
  Blocks inside a ``LINK`` block inherit the compound fields of the link block.
  Blocks that are not mass spectra (infrared, NMR...) or whose x axis is not m/z are
  skipped and reported; entries follow the rules of :mod:`gcms.io.msp` (zero-intensity
  peaks dropped and counted, negative or non-finite values skip the entry).
* :func:`read_xy` gives the decoded ``(x, y)`` arrays of every data block whatever it
  holds (the ASDF decoder, exposed).

What the file declares bounds what it may decode to: a table holds at most
:data:`MAX_TABLE_POINTS` points and never more than its ``##NPOINTS=`` (a DUP count is
checked before it is expanded, so a 212-byte "DUP bomb" cannot fill memory), a run at
most :data:`MAX_POINTS_PER_BYTE` points per byte of file and the memory budget. A block
the file ends in is complete only where its ``##NPOINTS=`` says so: an entry cut short
is skipped and listed, as is a block that never reached its data (an entry header
followed by the end of the file). The pages of an NTUPLES run must run from the
``##FIRST=`` to the ``##LAST=`` time the NTUPLES declares.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast, overload

import numpy as np

from gcms._arrays import memory_budget
from gcms.errors import FormatError, NotARunError
from gcms.io._common import (
    EntryReport,
    SkippedEntry,
    build_run,
    check_budget,
    evidence_bytes,
    peak_problem,
)
from gcms.io.msp import normalize_cas
from gcms.run import Run, RunMetadata
from gcms.spectrum import Spectrum

__all__ = ["read", "read_entries", "read_xy", "sniff"]

_FIRST_LABEL = re.compile(rb"^\s*(?:\xef\xbb\xbf)?##\s*TITLE\s*=", re.IGNORECASE)
_VERSION_LABEL = re.compile(rb"^##\s*JCAMP[-_ ]?DX\s*=", re.IGNORECASE | re.MULTILINE)
_DATA_LABEL_HEAD = re.compile(
    rb"^##\s*(?:PEAK\s*TABLE|XYDATA|XYPOINTS|DATA\s*TABLE|NTUPLES|PAGE)\s*=",
    re.IGNORECASE | re.MULTILINE,
)
_LDR = re.compile(r"^##([^=\n]*)=", re.MULTILINE)
_COMMENT = re.compile(r"\$\$[^\n]*")
_LABEL_DROP = str.maketrans("", "", " -/_\t")

#: LDRs that carry spectral data (the value's first line names the form).
_DATA_LABELS = frozenset({"PEAKTABLE", "XYDATA", "XYPOINTS", "DATATABLE"})
#: LDRs that describe structure, not the compound or the acquisition.
_STRUCTURAL = frozenset({
    "TITLE", "END", "JCAMPDX", "JCAMPCS", "DATATYPE", "DATACLASS", "BLOCKS", "BLOCKID",
    "NTUPLES", "VARNAME", "SYMBOL", "VARTYPE", "VARFORM", "VARDIM", "UNITS", "FIRST",
    "LAST", "MIN", "MAX", "FACTOR", "PAGE", "ENDNTUPLES", "NPOINTS", "FIRSTX", "LASTX",
    "FIRSTY", "LASTY", "MAXX", "MINX", "MAXY", "MINY", "XFACTOR", "YFACTOR", "DELTAX",
    "XUNITS", "YUNITS", "CASNAME", "NAMES", "CASREGISTRYNO", "MOLFORM", "MW",
    "$RETENTIONINDEX", "RETENTIONINDEX", "CROSSREFERENCE", "SCANNUMBER", "TIC", ".RIC",
    "RETENTIONTIME",
})
_RT_LABELS = ("RETENTIONTIME", ".RETENTIONTIME", "$RETENTIONTIME", "RT")
_NULL = frozenset({"", "?", "na", "n/a", "none", "unknown"})
_TIME_UNITS = {
    "": 1.0, "S": 1.0, "SEC": 1.0, "SECS": 1.0, "SECOND": 1.0, "SECONDS": 1.0,
    "MIN": 60.0, "MINS": 60.0, "MINUTE": 60.0, "MINUTES": 60.0,
    "MS": 1e-3, "MSEC": 1e-3, "MILLISECOND": 1e-3, "MILLISECONDS": 1e-3,
}
_MZ_UNITS = frozenset({"", "M/Z", "MZ", "DALTON", "DALTONS", "DA", "AMU", "U"})
#: Most points one data table may hold. A centroid spectrum has hundreds; a profile
#: spectrum of an Orbitrap a few hundred thousand.
MAX_TABLE_POINTS = 2**20
#: Most points a run may decode to per byte of file (peak tables take about 14 bytes a
#: point; ASDF-compressed profiles a byte or two), with :data:`_MIN_POINT_ALLOWANCE` allowed
#: whatever the file's size.
MAX_POINTS_PER_BYTE = 8
_MIN_POINT_ALLOWANCE = 2**22
#: Bytes a run holds per point (float64 m/z, float32 intensity).
_POINT_BYTES = 12


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``head`` starts with ``##TITLE=`` and is JCAMP-DX.

    Either a ``##JCAMP-DX=`` version LDR (any spelling of the label), or - for the
    exports that leave it out (OpenChrom writes none) - an LDR carrying spectral data.
    """
    if not head or not _FIRST_LABEL.match(head):
        return False
    return bool(_VERSION_LABEL.search(head) or _DATA_LABEL_HEAD.search(head))


# --------------------------------------------------------------------------- structure
@dataclass(slots=True)
class _Page:
    """One NTUPLES page (or page-per-scan record): its LDRs and its data table."""

    value: str
    line: int
    ldrs: dict[str, str] = field(default_factory=dict)
    data: tuple[str, str, int] | None = None  # (label, value, line)
    cut: bool = False  # its data table is the last thing in a file that ends inside it


@dataclass(slots=True)
class _Block:
    title: str
    line: int
    ordinal: int
    parent: _Block | None = None
    ldrs: dict[str, str] = field(default_factory=dict)
    raw_labels: dict[str, str] = field(default_factory=dict)
    data: list[tuple[str, str, int]] = field(default_factory=list)
    pages: list[_Page] = field(default_factory=list)
    ntuples: bool = False
    ntuples_closed: bool = False
    closed: bool = False
    children: list[_Block] = field(default_factory=list)
    open_at_end: bool = False  # the file ends inside this block (no ##END=)
    cut: bool = False  # its last data table is the last thing in a file that ends inside it

    @property
    def is_link(self) -> bool:
        return self.ldrs.get("DATATYPE", "").strip().upper().startswith("LINK")

    def get(self, label: str) -> str | None:
        """An LDR of this block, else of the link block that holds it."""
        block: _Block | None = self
        while block is not None:
            if label in block.ldrs:
                return block.ldrs[label]
            block = block.parent
        return None

    def label(self) -> str:
        title = f" {self.title!r}" if self.title else ""
        return f"block {self.ordinal}{title} (line {self.line})"


def _norm_label(label: str) -> str:
    return label.upper().translate(_LABEL_DROP)


def _decode_text(raw: bytes) -> str:
    for codec in ("utf-8", "cp1252"):
        try:
            return raw.decode(codec)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _parse_blocks(text: str, path: Path) -> tuple[list[_Block], bool]:
    """All blocks of the file in order, and whether the file ended inside one."""
    blocks: list[_Block] = []
    stack: list[_Block] = []
    page: _Page | None = None
    matches = list(_LDR.finditer(text))
    if not matches:
        raise FormatError(f"{path}: no JCAMP-DX labelled data record (##LABEL=)")
    line = 1 + text.count("\n", 0, matches[0].start())
    for index, match in enumerate(matches):
        stop = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        raw_label = match.group(1).strip()
        label = _norm_label(raw_label)
        value = text[match.end():stop]
        here = line
        line += text.count("\n", match.start(), stop)
        if label == "TITLE":
            while stack and not stack[-1].is_link:
                stack.pop().closed = False  # a new TITLE ends an unterminated block
            parent = stack[-1] if stack else None
            block = _Block(title=_scalar(value), line=here, ordinal=len(blocks) + 1,
                           parent=parent)
            if parent is not None:
                parent.children.append(block)
            blocks.append(block)
            stack.append(block)
            page = None
            continue
        if not stack:
            raise FormatError(f"{path}: line {here}: ##{raw_label}= comes before any ##TITLE=")
        block = stack[-1]
        if label == "END":
            block.closed = True
            stack.pop()
            page = None
        elif label == "NTUPLES":
            block.ntuples = True
            block.ldrs[label] = _scalar(value)
        elif label == "ENDNTUPLES":
            block.ntuples_closed = True
            page = None
        elif label == "PAGE":
            page = _Page(value=_scalar(value), line=here)
            block.pages.append(page)
        elif label in _DATA_LABELS:
            if page is not None:
                if page.data is not None:
                    raise FormatError(f"{path}: line {here}: page {page.value!r} holds two "
                                      "data tables")
                page.data = (label, value, here)
            else:
                block.data.append((label, value, here))
        elif page is not None:
            page.ldrs.setdefault(label, _scalar(value))
        else:
            block.ldrs.setdefault(label, value if label in ("NAMES",) else _scalar(value))
            block.raw_labels.setdefault(label, raw_label)
    truncated = bool(stack)
    for block in stack:
        block.open_at_end = True
    if truncated and matches and _norm_label(matches[-1].group(1).strip()) in _DATA_LABELS:
        # The file ends in this table: it may have lost its last lines.
        if page is not None and page.data is not None:
            page.cut = True
        elif stack[-1].data:
            stack[-1].cut = True
    return blocks, truncated


def _scalar(value: str) -> str:
    """A one-line LDR value: comments removed, continuation lines joined."""
    if "$$" in value:
        value = _COMMENT.sub("", value)
    return " ".join(value.split())


# --------------------------------------------------------------------------- data tables
class _BadData(Exception):
    """A data table that cannot be decoded; the message is the reason."""


@overload
def _float_ldr(block_or_page: Any, label: str, default: float) -> float: ...


@overload
def _float_ldr(block_or_page: Any, label: str, default: None = None) -> float | None: ...


def _float_ldr(block_or_page: Any, label: str, default: float | None = None) -> float | None:
    text = block_or_page.get(label) if isinstance(block_or_page, _Block) else \
        block_or_page.get(label)
    if text is None or text.strip().lower() in _NULL:
        return default
    try:
        number = float(text.replace(" ", "").replace("D", "E"))
    except ValueError:
        raise _BadData(f"##{label}= is not a number: {text!r}") from None
    if not math.isfinite(number):
        raise _BadData(f"##{label}= is not finite: {text!r}")
    return number


def _form_and_lines(value: str) -> tuple[str, str]:
    """The variable list of a data LDR (``(XY..XY)``...) and the data text below it."""
    first, _, rest = value.partition("\n")
    if "$$" in first:
        first = _COMMENT.sub("", first)
    form = first.strip().upper().replace(" ", "")
    if "$$" in rest:
        rest = _COMMENT.sub("", rest)
    return form, rest


_GROUP_WIDTH = {"(XY..XY)": 2, "(XYXY)": 2, "(XYW..XYW)": 3, "(XYM..XYM)": 3,
                "(XYWM..XYWM)": 4}
_AFFN_SEPARATORS = str.maketrans({",": " ", ";": " ", "\t": " "})


def _groups(text: str, width: int) -> np.ndarray:
    """``(XY..XY)``-style tables: numbers in groups of ``width`` (x, y first)."""
    tokens = text.translate(_AFFN_SEPARATORS).split()
    if len(tokens) % width:
        raise _BadData(f"the table holds {len(tokens)} numbers, not groups of {width}")
    try:
        values = np.array(tokens, dtype=np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_number(t))
        raise _BadData(f"value is not a number: {bad!r}") from None
    return values.reshape(-1, width)


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


_SQZ = {c: (i + 1) for i, c in enumerate("ABCDEFGHI")} | {"@": 0} | {
    c: -(i + 1) for i, c in enumerate("abcdefghi")}
_DIF = {c: (i + 1) for i, c in enumerate("JKLMNOPQR")} | {"%": 0} | {
    c: -(i + 1) for i, c in enumerate("jklmnopqr")}
_DUP = {c: (i + 1) for i, c in enumerate("STUVWXYZ")} | {"s": 9}
_ASDF_TOKEN = re.compile(r"[@A-Ia-i%J-Rj-rS-Zs]\d*(?:\.\d*)?|[+-]?\d+(?:\.\d*)?|[+-]?\.\d+|\S")
_AFFN_TOKEN = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?|\S")
_AFFN_LINE = re.compile(r"[\s\d.,;+\-eE]*")
_LONE_E = re.compile(r"(?<![\d.])[eE]|[eE](?![+\-]?\d)")


def _line_values(line: str, limit: int) -> tuple[list[float], bool]:
    """Decode one ``(X++(Y..Y))`` line: [x, y1, y2...] and whether it ended in DIF form.

    ``limit`` is the number of ordinates the line may still hold (what ``##NPOINTS=``
    leaves, plus a DIF y-check); a DUP count beyond it is refused before it is expanded.
    """
    # AFFN (with E exponents) unless a letter can only be ASDF: an E not between a digit
    # and a signed exponent, or a line of one token ("1E000" is x=1 then SQZ 5000).
    if _AFFN_LINE.fullmatch(line) and not (
        ("e" in line or "E" in line)
        and (_LONE_E.search(line) or len(line.replace(",", " ").split()) < 2)
    ):
        tokens = [t for t in _AFFN_TOKEN.findall(line.replace(",", " ").replace(";", " "))]
        try:
            return [float(t) for t in tokens], False
        except ValueError:
            raise _BadData(f"value is not a number in line {line.strip()[:30]!r}") from None
    values: list[float] = []
    last_dif: float | None = None
    in_dif = False
    for token in _ASDF_TOKEN.findall(line.replace(",", " ")):
        head = token[0]
        if head in _SQZ:
            digits = token[1:]
            magnitude = float(f"{abs(_SQZ[head])}{digits}")
            values.append(math.copysign(magnitude, _SQZ[head]) if _SQZ[head] else
                          float(f"0{digits}"))
            in_dif = False
        elif head in _DIF:
            if not values:
                raise _BadData("a DIF value with nothing before it")
            digits = token[1:]
            magnitude = float(f"{abs(_DIF[head])}{digits}")
            last_dif = math.copysign(magnitude, _DIF[head]) if _DIF[head] else \
                float(f"0{digits}")
            values.append(values[-1] + last_dif)
            in_dif = True
        elif head in _DUP:
            if not values:
                raise _BadData("a DUP count with nothing before it")
            count = int(f"{_DUP[head]}{token[1:]}")
            if len(values) - 1 + count - 1 > limit:
                raise _BadData(f"DUP count {count} makes more values than the table's "
                               "##NPOINTS= allows")
            for _ in range(count - 1):
                values.append(values[-1] + cast(float, last_dif) if in_dif else values[-1])
        elif head in "+-." or head.isdigit():
            values.append(float(token))
            in_dif = False
        else:
            raise _BadData(f"character {head!r} is not ASDF in line {line.strip()[:30]!r}")
    return values, in_dif


def _xydata(text: str, firstx: float, lastx: float, npoints: int, xfactor: float,
            yfactor: float) -> tuple[np.ndarray, np.ndarray]:
    """``(X++(Y..Y))``: each line an abscissa then ordinates, AFFN or ASDF compressed.

    The x of point ``i`` is ``FIRSTX + i (LASTX - FIRSTX) / (NPOINTS - 1)``; each line's
    own x (times XFACTOR) must agree with it to within one step, and where a line ends
    in DIF form the next line repeats its last ordinate as a check (JCAMP-DX 4.24 §5.9).
    """
    ys: list[float] = []
    previous_dif = False
    step = (lastx - firstx) / (npoints - 1) if npoints > 1 else 0.0
    for number, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        values, ends_in_dif = _line_values(line, npoints - len(ys) + 1)
        if not values:
            continue
        x, line_ys = values[0], values[1:]
        # The line's abscissa belongs to its first ordinate: after a DIF line that is the
        # y-check, i.e. the point already read last.
        first_index = len(ys) - 1 if previous_dif else len(ys)
        if previous_dif:
            if not line_ys:
                raise _BadData(f"data line {number} lacks the DIF y-check value")
            if abs(line_ys[0] - ys[-1]) > 1e-9 * max(1.0, abs(ys[-1])):
                raise _BadData(f"data line {number}: y-check {line_ys[0]:g} differs from the "
                               f"last value of the line before ({ys[-1]:g})")
            line_ys = line_ys[1:]
        if line_ys:
            expected = firstx + first_index * step
            if abs(x * xfactor - expected) > abs(step) * 1.0001 + 1e-6 * abs(expected):
                raise _BadData(f"data line {number}: abscissa {x * xfactor:g} where point "
                               f"{first_index} lies at {expected:g} (abscissa check)")
        ys.extend(line_ys)
        if len(ys) > npoints:
            raise _BadData(f"##NPOINTS= says {npoints} but more values are encoded")
        previous_dif = ends_in_dif
    if len(ys) != npoints:
        raise _BadData(f"##NPOINTS= says {npoints} but {len(ys)} values are encoded")
    y = np.asarray(ys, dtype=np.float64) * yfactor
    x_axis = firstx + np.arange(npoints, dtype=np.float64) * step
    return x_axis, y


def _table(label: str, value: str, params, *, cut: bool = False
           ) -> tuple[np.ndarray, np.ndarray]:
    """Decode one data LDR to (x, y) with factors applied; ``params.get`` gives LDRs.

    ``cut``: the file ends inside this table, which is then complete only where its
    ``##NPOINTS=`` says so (an ``(X++(Y..Y))`` table always declares it).
    """
    form, body = _form_and_lines(value)
    xfactor = _float_ldr(params, "XFACTOR", 1.0)
    yfactor = _float_ldr(params, "YFACTOR", 1.0)
    if form.startswith(("(X++(Y..Y)", "(X++(R..R)")):  # some writers drop the last ')'

        npoints = _float_ldr(params, "NPOINTS")
        firstx = _float_ldr(params, "FIRSTX")
        lastx = _float_ldr(params, "LASTX")
        if npoints is None or firstx is None or lastx is None:
            raise _BadData("(X++(Y..Y)) data need ##FIRSTX=, ##LASTX= and ##NPOINTS=")
        if npoints != int(npoints) or npoints < 1:
            raise _BadData(f"##NPOINTS= is not a positive whole number: {npoints:g}")
        if npoints > MAX_TABLE_POINTS:
            raise _BadData(f"##NPOINTS= {npoints:.0f} is more than a spectrum holds (at most "
                           f"{MAX_TABLE_POINTS} points are read per table)")
        return _xydata(body, firstx, lastx, int(npoints), xfactor, yfactor)
    base = form.split(",")[0]
    width = _GROUP_WIDTH.get(base)
    if width is None:
        raise _BadData(f"data form {form!r} is not one gcms reads")
    table = _groups(body, width)
    npoints = _float_ldr(params, "NPOINTS")
    if npoints is not None and npoints != table.shape[0]:
        raise _BadData(f"##NPOINTS= says {npoints:g} but {table.shape[0]} points follow")
    if npoints is None and cut:
        raise _BadData("the file ends inside this table and it has no ##NPOINTS= to show "
                       f"it is complete ({table.shape[0]} points read)")
    return table[:, 0] * xfactor, table[:, 1] * yfactor


class _Params:
    """LDR lookup for a page: the page's own LDRs, then its block's (and link's)."""

    def __init__(self, page: _Page, block: _Block, column: dict[str, str]) -> None:
        self.page, self.block, self.column = page, block, column

    def get(self, label: str) -> str | None:
        if label in self.page.ldrs:
            return self.page.ldrs[label]
        if label in self.column:
            return self.column[label]
        return self.block.get(label)


def _ntuple_columns(block: _Block) -> dict[str, str]:
    """Per-variable NTUPLES LDRs (``##FACTOR= fx, fy, ft``...) as XFACTOR/YFACTOR/units."""
    out: dict[str, str] = {}
    symbol = block.get("SYMBOL")
    symbols = [s.strip().upper() for s in symbol.split(",")] if symbol else []
    for label, target in (("FACTOR", "FACTOR"), ("UNITS", "UNITS")):
        text = block.get(label)
        if not text:
            continue
        for symbol, entry in zip(symbols, text.split(","), strict=False):
            entry = entry.strip()
            if entry and symbol in ("X", "Y"):
                out[f"{symbol}{target}"] = entry
    return out


# --------------------------------------------------------------------------- times
def _page_time_s(page: _Page, block: _Block, path: Path) -> float:
    """The page variable's value in seconds (``T=272`` with the NTUPLES time unit)."""
    text = page.value
    match = re.match(r"^\s*([A-Za-z]\w*)\s*=\s*(.*)$", text)
    symbol, number = (match.group(1).upper(), match.group(2)) if match else ("T", text)
    try:
        value = float(number.split()[0].rstrip(","))
    except (ValueError, IndexError):
        alternative = next((page.ldrs[k] for k in _RT_LABELS if k in page.ldrs), None)
        if alternative is None:
            raise FormatError(
                f"{path}: line {page.line}: ##PAGE= {text!r} holds no time") from None
        return _time_with_unit(alternative, None, path, page.line)
    unit = None
    symbols = [s.strip().upper() for s in (block.get("SYMBOL") or "").split(",")]
    units = [u.strip().upper() for u in (block.get("UNITS") or "").split(",")]
    if symbol in symbols and symbols.index(symbol) < len(units):
        unit = units[symbols.index(symbol)]
    if unit not in (None, "") and unit not in _TIME_UNITS:
        raise FormatError(f"{path}: the page variable {symbol} has unit {unit!r}, not a time")
    if not math.isfinite(value):
        raise FormatError(f"{path}: line {page.line}: page time {text!r} is not finite")
    return value * _TIME_UNITS.get(unit or "", 1.0)


def _time_with_unit(text: str, default_unit: str | None, path: Path, line: int) -> float:
    match = re.match(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([A-Za-z.]*)\s*$", text)
    if match is None:
        raise FormatError(f"{path}: line {line}: retention time {text!r} is not a number")
    unit = match.group(2).upper().rstrip(".") or (default_unit or "")
    if unit not in _TIME_UNITS:
        raise FormatError(f"{path}: line {line}: retention time unit {unit!r} is not known")
    return float(match.group(1)) * _TIME_UNITS[unit]


# --------------------------------------------------------------------------- reading
def _load(path: Path) -> tuple[list[_Block], bool, str, int]:
    """The file's blocks, whether it ends inside one, its SHA-256 and its size."""
    with evidence_bytes(path) as evidence:
        raw = evidence.raw
        digest = evidence.sha256
    nul = raw.find(b"\x00")
    if nul >= 0:
        # JCAMP-DX is printable text: NUL bytes are a zeroed stretch of the file, which can
        # hide where a page or an entry began.
        line = raw.count(b"\n", 0, nul) + 1
        raise FormatError(f"{path}: NUL byte at byte {nul} (line {line}): JCAMP-DX is text; "
                          "a zeroed or damaged stretch of the file")
    text = _decode_text(raw)
    if text.startswith("\ufeff"):
        text = text[1:]
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    blocks, truncated = _parse_blocks(text, path)
    return blocks, truncated, digest, len(raw)


def _is_mass_spectrum(block: _Block) -> str | None:
    """Why a block is not a mass spectrum, or None when it is one."""
    data_type = (block.get("DATATYPE") or "").upper()
    if data_type and "MASS" not in data_type:
        return f"not a mass spectrum (DATA TYPE= {data_type})"
    xunits = (block.get("XUNITS") or "").strip().upper().replace(" ", "")
    if xunits not in _MZ_UNITS:
        return f"x axis is {xunits}, not m/z"
    return None


def read_xy(path: str | os.PathLike) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Every data table of a JCAMP-DX file decoded: ``(title, x, y)`` with factors applied.

    Whatever the blocks hold (infrared, NMR, mass spectra); pages of an NTUPLES block
    are titled ``"<title> / <page>"``.

    Raises
    ------
    FormatError
        The file is not JCAMP-DX or a table cannot be decoded (names block and reason).
    """
    path = Path(path)
    blocks, _, _, _ = _load(path)
    out = []
    for block in blocks:
        try:
            for k, (label, value, _line) in enumerate(block.data):
                out.append((block.title, *_table(label, value, block,
                                                 cut=_data_cut(block, k))))
            columns = _ntuple_columns(block)
            for page in block.pages:
                if page.data is not None:
                    x, y = _table(page.data[0], page.data[1], _Params(page, block, columns),
                                  cut=page.cut)
                    out.append((f"{block.title} / {page.value}", x, y))
        except _BadData as error:
            raise FormatError(f"{path}: {block.label()}: {error}") from None
    return out


_TABULAR = re.compile(r"^\(\w[\w.+]*\)")


def _missing_blocks(block: _Block) -> str | None:
    """What a LINK block lacks of the ``##BLOCKS=`` it declares, or None."""
    if not block.is_link:
        return None
    try:
        declared = int((block.ldrs.get("BLOCKS") or "").split()[0])
    except (ValueError, IndexError):
        return None
    held = len(block.children)
    if held == declared:
        return None
    return f"declares {declared} blocks (##BLOCKS=) but holds {held}"


def _data_cut(block: _Block, index: int) -> bool:
    """Whether data table ``index`` of ``block`` is where a cut-short file ends."""
    return block.cut and index == len(block.data) - 1


def _extra_ldrs(block: _Block) -> dict[str, str]:
    """The block's descriptive LDRs, under their labels as written.

    Tables and what the Spectrum or Run fields already hold are left out.
    """
    return {block.raw_labels.get(label, label): value
            for label, value in block.ldrs.items()
            if label not in _STRUCTURAL and value and "\n" not in value
            and not _TABULAR.match(value)}


def _formula(text: str | None) -> str | None:
    if not text or text.strip().lower() in _NULL:
        return None
    compact = text.replace(" ", "")
    return re.sub(r"([A-Z][a-z]?)1(?![0-9])", r"\1", compact) or None


def _names(block: _Block) -> tuple[str | None, tuple[str, ...]]:
    names_text = block.get("NAMES") or ""
    if "$$" in names_text:
        names_text = _COMMENT.sub("", names_text)
    names = [n.strip() for n in names_text.split("\n") if n.strip()]
    cas_name = (block.get("CASNAME") or "").strip()
    first = cas_name or (names[0] if names else "") or block.title.strip()
    if not first and block.parent is not None:
        first = block.parent.title.strip()
    synonyms = tuple(n for n in names if n != first)
    return first or None, synonyms


def _spectrum(block: _Block, mz: np.ndarray, intensity: np.ndarray, source: str,
              entry: str, rt_seconds: float | None,
              fallback_name: str | None = None) -> tuple[Spectrum | None, str | None]:
    """A Spectrum from decoded peaks (rules of gcms.io.msp), or the reason it is skipped."""
    if mz.size == 0:
        return None, "no peaks"
    problem = peak_problem(mz, intensity)
    if problem is not None:
        return None, problem
    keep = intensity > 0
    if not keep.any():
        return None, "no peak of positive intensity"
    extra: dict[str, str] = {}
    if not keep.all():
        extra["jcamp.zero_intensity_peaks"] = str(int((~keep).sum()))
    chain = []
    node: _Block | None = block
    while node is not None:
        chain.append(node)
        node = node.parent
    for node in reversed(chain):  # the block's own LDRs win over its link block's
        extra.update(_extra_ldrs(node))
    if block.title:
        extra["title"] = block.title
    name, synonyms = _names(block)
    name = name or fallback_name
    cas_text = (block.get("CASREGISTRYNO") or "").replace(" ", "")
    cas = None
    if cas_text:
        try:
            cas = normalize_cas(cas_text)
        except ValueError:
            extra["CAS REGISTRY NO"] = cas_text
    try:
        mw = _float_ldr(block, "MW")
        ri = _float_ldr(block, "$RETENTIONINDEX") or _float_ldr(block, "RETENTIONINDEX")
    except _BadData as error:
        return None, str(error)
    if name is None:
        return None, "no name (no ##TITLE=, ##NAMES= or ##CAS NAME=)"
    spectrum = Spectrum(
        mz=mz[keep], intensity=intensity[keep], name=name, synonyms=synonyms, cas=cas,
        formula=_formula(block.get("MOLFORM")), mw=mw if mw and mw > 0 else None,
        inchikey=None, retention_index=ri if ri and ri > 0 else None,
        rt_seconds=rt_seconds, source=source, source_entry=entry, extra=extra,
    )
    return spectrum, None


def read_entries(path: str | os.PathLike) -> EntryReport:
    """Read every mass spectrum of a JCAMP-DX file: single spectra, libraries, run pages.

    ``source_entry`` is ``"<block number>"`` for a block, ``"<block number> page <n>"``
    for a page of an NTUPLES or page-per-scan block (1-based).

    Raises
    ------
    FormatError
        The file is not JCAMP-DX (no ``##TITLE=`` ...) or holds no data table at all.
    """
    path = Path(path)
    source = str(path)
    blocks, _, digest, _ = _load(path)
    report = EntryReport(sha256=digest)
    found = False
    for block in blocks:
        if not block.data and not block.pages:
            if block.is_link or block.children:
                missing = _missing_blocks(block)
                if missing:  # entries lost after the last one read
                    report.skipped.append(SkippedEntry(source, block.label(), missing))
                continue  # a LINK block holds its entries as blocks of its own
            # An entry header without its peaks: listed, never silently dropped.
            reason = ("the file ends inside this block, before any data table (truncated "
                      "file)" if block.open_at_end else "no data table")
            report.skipped.append(SkippedEntry(source, block.label(), reason))
            continue
        found = True
        problem = _is_mass_spectrum(block)
        if problem is not None:
            report.skipped.append(SkippedEntry(source, block.label(), problem))
            continue
        for k, (label, value, _line) in enumerate(block.data):
            entry = str(block.ordinal)
            try:
                mz, intensity = _table(label, value, block, cut=_data_cut(block, k))
                rt = _block_rt(block, path)
            except (_BadData, FormatError) as error:
                report.skipped.append(SkippedEntry(source, block.label(), _reason(error)))
                continue
            spectrum, why = _spectrum(block, mz, intensity, source, entry, rt,
                                      fallback_name=f"{path.stem} block {block.ordinal}")
            _add(report, spectrum, why, source, block.label())
        columns = _ntuple_columns(block)
        for number, page in enumerate(block.pages, 1):
            label_text = f"{block.label()} page {number} ({page.value})"
            if page.data is None:
                report.skipped.append(SkippedEntry(source, label_text, "page without data"))
                continue
            try:
                mz, intensity = _table(page.data[0], page.data[1],
                                       _Params(page, block, columns), cut=page.cut)
                rt = _page_time_s(page, block, path)
            except (_BadData, FormatError) as error:
                report.skipped.append(SkippedEntry(source, label_text, _reason(error)))
                continue
            # A page of an untitled run is named after the file and its page.
            spectrum, why = _spectrum(block, mz, intensity, source,
                                      f"{block.ordinal} page {number}", rt,
                                      fallback_name=f"{path.stem} page {number}")
            _add(report, spectrum, why, source, label_text)
    if not found:
        if report.skipped and any(block.open_at_end for block in blocks):
            return report  # a library cut right after an entry header: that entry listed
        raise FormatError(f"{path}: no data table in any JCAMP-DX block")
    return report


def _reason(error: Exception) -> str:
    text = str(error)
    return text.split(": ", 1)[1] if isinstance(error, FormatError) and ": " in text else text


def _add(report: EntryReport, spectrum: Spectrum | None, why: str | None, source: str,
         label: str) -> None:
    if spectrum is not None:
        report.spectra.append(spectrum)
    else:
        report.skipped.append(SkippedEntry(source, label, why or "unreadable"))


def _block_rt(block: _Block, path: Path) -> float | None:
    for label in _RT_LABELS:
        text = block.ldrs.get(label)
        if text and text.strip().lower() not in _NULL:
            seconds = _time_with_unit(text, None, path, block.line)
            return seconds if seconds > 0 else None
    return None


# --------------------------------------------------------------------------- runs
def _acquired_at(block: _Block) -> datetime | None:
    long_date = block.get("LONGDATE")
    candidates = []
    if long_date:
        candidates.append(long_date.split("+")[0].strip())
    date, time = block.get("DATE"), block.get("TIME")
    if date:
        candidates.append(f"{date.strip()} {time.strip()}" if time else date.strip())
    formats = ("%Y/%m/%d %H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M", "%Y/%m/%d %H:%M",
               "%y/%m/%d %H:%M:%S", "%Y-%m-%d", "%Y/%m/%d", "%y/%m/%d")
    for text in candidates:
        for fmt in formats:
            try:
                return datetime.strptime(text, fmt)
            except ValueError:
                continue
    return None


def read(path: str | os.PathLike, *, allow_truncated: bool = False) -> Run:
    """Read a GC-MS run stored as JCAMP-DX (NTUPLES pages, page-per-scan, LINK of scans).

    Scan times are in seconds (converted from the NTUPLES ``##UNITS`` of the page
    variable; seconds where a file states none, as OpenChrom writes them). The file's
    own total ion current per page (``##.RIC=`` / ``##TIC=``) is kept as the run's TIC
    where every page has one.

    Parameters
    ----------
    path
        The file; opened read-only, its SHA-256 is in ``metadata.sha256``.
    allow_truncated
        Keep the complete scans of a file cut short (see the module docstring) instead
        of refusing it; ``metadata.extra["truncated"]`` then says what was left out.

    Raises
    ------
    FormatError
        Not JCAMP-DX, no scans with retention times (a spectrum or library file: use
        :func:`read_entries`), a page that cannot be decoded, or a truncated file.
    """
    path = Path(path)
    blocks, truncated_file, digest, size = _load(path)
    allowance = _PointAllowance(path, size)
    runs = [b for b in blocks if b.pages]
    if runs:
        block = runs[0]
        if len(runs) > 1:
            raise FormatError(f"{path}: holds {len(runs)} runs (paged blocks); gcms reads "
                              "one run per file")
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf: refused below
            scans, tics, note = _paged_scans(block, path, truncated_file, allow_truncated,
                                             allowance)
        _check_page_range(block, [t for t, _, _ in scans], path, complete=note is None)
        scan_block = block
    else:
        with np.errstate(over="ignore"):  # a value beyond float32 becomes inf: refused below
            block, scan_block, scans = _linked_scans(blocks, path, allowance)
        tics, note = None, None
    reason = _is_mass_spectrum(scan_block)
    if reason is not None:
        raise FormatError(f"{path}: {block.label()}: {reason}")
    times = np.array([t for t, _, _ in scans], dtype=np.float64)
    counts = np.array([mz.size for _, mz, _ in scans], dtype=np.int64)
    offsets = np.concatenate(([0], np.cumsum(counts)))
    mz = np.concatenate([m for _, m, _ in scans]) if scans else np.empty(0)
    intensity = np.concatenate([i for _, _, i in scans]) if scans else np.empty(0)
    tic = np.array(tics, dtype=np.float64) if tics is not None else None
    continuous = any(
        _form_and_lines(page.data[1])[0].startswith("(X++")
        for page in block.pages if page.data is not None
    ) or "CONTINUOUS" in (block.get("DATATYPE") or "").upper()
    extra = _extra_ldrs(block)
    if note:
        extra["truncated"] = note
    metadata = RunMetadata(
        sample_name=block.title.strip() or None,
        acquired_at=_acquired_at(block),
        operator=None,
        instrument=_clean(block.get("SPECTROMETERDATASYSTEM")
                          or block.get("SPECTROMETERSYSTEM")),
        method=None,
        source_path=str(path),
        data_file=str(path),
        sha256=digest,
        format="jcamp-dx",
        acquisition="profile" if continuous else "scan",
        ionization=_clean(block.get(".IONIZATIONMODE") or block.get("IONIZATIONMODE")),
        extra=extra,
    )
    return build_run(path, scan_times=times, scan_offsets=offsets, mz=mz,
                     intensity=intensity, tic=tic, metadata=metadata)


def _clean(text: str | None) -> str | None:
    if text is None:
        return None
    text = text.strip()
    return text if text and text.upper() != "UNKNOWN" else None


class _PointAllowance:
    """The points a run may decode to, counted as its scans are decoded.

    :data:`MAX_POINTS_PER_BYTE` per byte of its file (at least ``_MIN_POINT_ALLOWANCE``),
    and the memory budget.
    """

    def __init__(self, path: Path, size: int) -> None:
        self.path, self.size = path, size
        self.limit = max(_MIN_POINT_ALLOWANCE, MAX_POINTS_PER_BYTE * size)
        self.budget = memory_budget() // _POINT_BYTES
        self.used = 0

    def take(self, n: int) -> None:
        self.used += n
        if self.used > self.limit:
            raise FormatError(
                f"{self.path}: decodes to more than {self.limit:,} points, "
                f"{MAX_POINTS_PER_BYTE} per byte of this {self.size:,}-byte file: refused as "
                "damaged or a decompression bomb")
        if self.used > self.budget:
            check_budget(self.path, _POINT_BYTES * self.used,
                         f"the {self.used:,} points decoded so far")


def _check_page_range(block: _Block, times: list[float], path: Path, *,
                      complete: bool) -> None:
    """The pages run from the time ``##FIRST=`` to the time ``##LAST=`` declares.

    The page variable's entries of the NTUPLES ``##FIRST=``/``##LAST=`` (checked where
    the file gives them). Some writers state them in minutes while the pages are in
    seconds (PyMS): a factor of 60 either way is accepted when it fits both ends. The
    last time is not checked for a run read with ``allow_truncated``.
    """
    if not times or not block.pages:
        return
    match = re.match(r"^\s*([A-Za-z]\w*)\s*=", block.pages[0].value)
    symbol = match.group(1).upper() if match else "T"
    symbols = [s.strip().upper() for s in (block.get("SYMBOL") or "").split(",")]
    if symbol not in symbols:
        return
    index = symbols.index(symbol)
    declared = []
    for label in ("FIRST", "LAST"):
        entries = (block.get(label) or "").split(",")
        text = entries[index].strip() if index < len(entries) else ""
        try:
            declared.append((float(text), text))
        except ValueError:
            return
    units = [u.strip().upper() for u in (block.get("UNITS") or "").split(",")]
    unit = _TIME_UNITS.get(units[index] if index < len(units) else "", 1.0)
    ends = [(times[0], declared[0])] + ([(times[-1], declared[1])] if complete else [])

    def fits(factor: float) -> bool:
        for seen, (value, text) in ends:
            decimals = len(text.partition(".")[2].rstrip()) if "." in text else 0
            expected = value * unit * factor
            slack = max(0.51 * 10.0 ** -decimals * unit * factor, 1e-6 * abs(expected))
            if abs(seen - expected) > slack:
                return False
        return True

    if not any(fits(factor) for factor in (1.0, 60.0, 1 / 60.0)):
        raise FormatError(
            f"{path}: {block.label()}: the NTUPLES declares its pages from {declared[0][1]} "
            f"to {declared[1][1]} {units[index] if index < len(units) else ''} (##FIRST=, "
            f"##LAST=), but they run from {times[0]:g} to {times[-1]:g} s (pages missing "
            "or damaged)")


def _paged_scans(block: _Block, path: Path, truncated_file: bool, allow_truncated: bool,
                 allowance: _PointAllowance):
    if block.data:  # every scan of a paged run is a page: a table outside them is damage
        raise FormatError(f"{path}: {block.label()}: a data table (line {block.data[0][2]}) "
                          "lies outside any ##PAGE= of this paged run (damaged file)")
    columns = _ntuple_columns(block)
    scans = []
    tics: list[float] | None = []
    pages = block.pages
    note = None
    # A formal NTUPLES block that never reaches ##END NTUPLES= was cut short.
    cut = block.ntuples and not block.ntuples_closed
    for number, page in enumerate(pages, 1):
        last = number == len(pages)
        try:
            if page.data is None:
                raise _BadData("page without data table")
            mz, intensity = _table(page.data[0], page.data[1], _Params(page, block, columns),
                                   cut=page.cut)
        except _BadData as error:
            if last and (truncated_file or cut):
                if not allow_truncated:
                    raise FormatError(
                        f"{path}: the file is truncated: its last page ({page.value}, line "
                        f"{page.line}) is incomplete ({error}); "
                        "read(path, allow_truncated=True) keeps the complete scans"
                    ) from None
                note = (f"last page ({page.value}) incomplete and left out: {error}; "
                        f"{len(pages) - 1} complete pages read")
                break
            raise FormatError(f"{path}: page {number} ({page.value}, line {page.line}): "
                              f"{error}") from None
        time = _page_time_s(page, block, path)
        allowance.take(mz.size)
        scans.append((time, mz, intensity.astype(np.float32)))
        tic_text = page.ldrs.get(".RIC") or page.ldrs.get("TIC")
        if tics is not None and tic_text:
            try:
                tics.append(float(tic_text))
            except ValueError:
                tics = None
        else:
            tics = None
    if cut and note is None:
        if not allow_truncated:
            raise FormatError(
                f"{path}: the file is truncated: it ends inside its NTUPLES (no "
                "##END NTUPLES=); read(path, allow_truncated=True) keeps the scans read")
        note = f"file ends inside its NTUPLES (no ##END NTUPLES=); {len(scans)} pages read"
    if tics is not None and len(tics) != len(scans):
        tics = None
    return scans, tics, note


def _linked_scans(blocks: list[_Block], path: Path, allowance: _PointAllowance):
    """A LINK file whose blocks are scans, each with a retention time."""
    scans = []
    holder = first = None
    for block in blocks:
        if not block.data:
            continue
        rt = _block_rt(block, path)  # a retention time that is there but unreadable: refused
        if rt is None:
            continue
        if len(block.data) != 1:
            raise FormatError(f"{path}: {block.label()} holds {len(block.data)} data tables")
        label, value, _ = block.data[0]
        try:
            mz, intensity = _table(label, value, block, cut=_data_cut(block, 0))
        except _BadData as error:
            raise FormatError(f"{path}: {block.label()}: {error}") from None
        allowance.take(mz.size)
        scans.append((rt, mz, intensity.astype(np.float32)))
        holder = holder or (block.parent or block)
        first = first or block
    if len(scans) < 2:
        raise NotARunError(f"{path}: holds spectra, not a run (no pages and no blocks with "
                          "retention times); use gcms.io.read_spectra()")
    holder = cast(_Block, holder)  # set by the first of the (at least two) scans
    missing = _missing_blocks(holder)
    if missing:
        raise FormatError(f"{path}: {holder.label()}: {missing} (truncated or damaged file)")
    order = np.argsort([t for t, _, _ in scans], kind="stable")
    return holder, first, [scans[i] for i in order]
