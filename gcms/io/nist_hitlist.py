"""NIST MS Search / MSPepSearch hit lists (``SRCRESLT.TXT``): read them, write gcms hits so.

NIST MS Search (and MSPepSearch with its text output) writes one block per query
("Unknown") followed by its hits, one line each::

    Unknown: ID-1                                   Compound in Library Factor = 320
    Hit 1  : <<Butane, 2-methyl->>;<<C5H12>>; MF: 948; RMF: 955; Prob: 90.40; CAS:78-78-4;
    Mw: 72; Lib: <<mainlib>>; Id: 7010; RI: 475.

(one line in the file, cut here).

Fields of a hit: name and formula (between ``<<`` and ``>>``), match factor ``MF`` and
reverse match factor ``RMF`` (0..999, Stein & Scott 1994, J. Am. Soc. Mass Spectrom. 5,
859-866), ``Prob`` (percent, Stein 1995 probability), ``CAS`` (``0`` or ``0-00-0`` when
the library has none), ``Mw`` (nominal), ``Lib`` (library name), ``Id`` (1-based entry
number in that library) and, where the search was set to report it, the library's ``RI``
(``0`` when the entry has none). ``Compound in Library Factor`` (NIST's InLib factor) is
kept as written. Placeholders (CAS ``0``, RI ``0``) are read as "not stated" (``None``).

What the reader does with odd files (all real: ChemClipse's test files hold them):

* a ``Hit 1`` after the hits of a query, with no ``Unknown:`` line before it (a result
  file cut and pasted), starts a new hit list whose ``query`` is ``None``, and is noted
  in ``report.notes``;
* a hit line that does not parse, or a hit before any query, is skipped and listed in
  ``report.skipped`` with file, line and reason; other lines must be blank, otherwise
  they are skipped too;
* text is read as UTF-8; a file that is not UTF-8 and whose only non-ASCII bytes are
  those NIST MS Search writes for Greek letters (:data:`DOS_GREEK`) is read in its DOS
  code page (IBM code page 437) with NIST's letters: ``0xE0`` α, ``0xE1`` β (cp437's
  ß), ``0xE7`` γ (cp437's τ), ``0xEB`` δ, ``0xEE`` ε, ``0xE6`` µ; anything else as
  Windows-1252, else Latin-1 (:func:`gcms.io._common.decode_text`). Read as Windows-1252,
  NIST's ``α-methyl`` would be ``à-methyl``. The letters were checked on real MS Search
  output against the CAS Registry names of the hits (CAS 2305-05-7 γ-dodecalactone,
  written ``0xE7``; 60-15-1 α-methylbenzeneethanamine, ``0xE0``). The report's ``notes``
  say which decoding was used.

:func:`write` writes hit lists in the same layout; :func:`read` reads them back to equal
:class:`NistHitList` values (the probability has two decimals in this layout, so a gcms
probability is rounded there). gcms computes no InLib factor: hit lists made from gcms
search results write ``0``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gcms.errors import FormatError
from gcms.io._common import SkippedEntry, decode_text, evidence_bytes
from gcms.io.msp import normalize_cas

__all__ = ["HitListReport", "NistHit", "NistHitList", "from_search_results", "read",
           "sniff", "write"]

_UNKNOWN = re.compile(r"^Unknown:[ \t]?(.*?)[ \t]*Compound in Library Factor[ \t]*=[ \t]*"
                      r"([-+]?\d+)[ \t]*$")
_HIT = re.compile(
    r"^Hit[ \t]+(\d+)[ \t]*:[ \t]*<<(.*?)>>;[ \t]*<<(.*?)>>;"
    r"[ \t]*MF:[ \t]*(\d+);[ \t]*RMF:[ \t]*(\d+);[ \t]*Prob:[ \t]*(\d+(?:\.\d*)?);"
    r"[ \t]*CAS:[ \t]*([\d-]+);[ \t]*Mw:[ \t]*(\d+(?:\.\d*)?);[ \t]*Lib:[ \t]*<<(.*?)>>;"
    r"[ \t]*Id:[ \t]*(\d+)(?:;[ \t]*RI:[ \t]*(\d+(?:\.\d*)?))?\.?[ \t]*$")
_LINES = re.compile(r"\r\n|\r|\n")

#: Bytes NIST MS Search writes for the Greek letters of chemical names in its DOS code
#: page, and the letter each means (cp437 has no β or γ: MS Search writes ß and τ in
#: their place). Only these: a file with other high bytes (Latin-1 é, è...) is not read
#: as DOS.
DOS_GREEK = {0xE0: "α", 0xE1: "β", 0xE6: "µ", 0xE7: "γ", 0xEB: "δ", 0xEE: "ε"}


def decode_nist(raw: bytes) -> tuple[str, str | None]:
    """Text of a NIST MS Search file: UTF-8, else its DOS code page, else Windows-1252.

    Returns the text and the decoding used (``None`` for UTF-8, ``"nist-dos"`` for the
    DOS code page with NIST's Greek letters, else :func:`decode_text`'s codec).
    """
    try:
        return raw.decode("utf-8"), None
    except UnicodeDecodeError:
        pass
    high = {b for b in raw if b >= 0x80}
    if high and high <= DOS_GREEK.keys():
        return "".join(DOS_GREEK.get(b, chr(b)) for b in raw), "nist-dos"
    return decode_text(raw)
#: Width of the query-name column before "Compound in Library Factor" (as MS Search pads it).
_QUERY_COLUMN = 60


@dataclass(frozen=True, slots=True)
class NistHit:
    """One hit of a NIST MS Search hit list, as the file states it."""

    rank: int
    name: str
    formula: str | None
    match_factor: int
    reverse_match_factor: int
    probability: float
    cas: str | None
    mw: float | None
    library: str | None
    library_id: int
    retention_index: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {name: getattr(self, name) for name in self.__slots__}


@dataclass(frozen=True, slots=True)
class NistHitList:
    """The hits of one query ("Unknown"), best first."""

    query: str | None
    in_library_factor: int | None
    hits: tuple[NistHit, ...]

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        return {"query": self.query, "in_library_factor": self.in_library_factor,
                "hits": [h.to_dict() for h in self.hits]}


@dataclass(slots=True)
class HitListReport:
    """What :func:`read` got from one file: hit lists, skipped lines, notes, digest."""

    hit_lists: list[NistHitList] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    sha256: str | None = None


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``head`` starts like a NIST MS Search result file."""
    text = head.lstrip(b"\xef\xbb\xbf").lstrip()
    return text.startswith(b"Unknown:") and b"Compound in Library Factor" in text[:400]


def _placeholder_none(value: str) -> float | None:
    number = float(value)
    return number if number > 0 else None


def _hit(match: re.Match) -> NistHit:
    rank, name, formula, mf, rmf, prob, cas, mw, lib, ident, ri = match.groups()
    cas_text = cas.strip()
    return NistHit(
        rank=int(rank), name=name, formula=formula or None, match_factor=int(mf),
        reverse_match_factor=int(rmf), probability=float(prob),
        cas=None if cas_text.replace("-", "").strip("0") == "" else normalize_cas(cas_text)
        or cas_text,
        mw=_placeholder_none(mw), library=lib or None, library_id=int(ident),
        retention_index=None if ri is None else _placeholder_none(ri))


def read(path: str | os.PathLike) -> HitListReport:
    """Read every hit list of a NIST MS Search ``SRCRESLT.TXT`` / MSPepSearch text file.

    Raises
    ------
    FormatError
        The file is empty or holds neither an ``Unknown:`` nor a ``Hit`` line.
    """
    path = Path(path)
    source = str(path)
    with evidence_bytes(path) as evidence:
        raw = evidence.raw
        sha256 = evidence.sha256
    if not raw.strip():
        raise FormatError(f"{source}: the file is empty")
    text, codec = decode_nist(raw)
    report = HitListReport(sha256=sha256)
    if codec == "nist-dos":
        report.notes.append(f"{source}: not UTF-8; read in NIST MS Search's DOS code page "
                            "(Greek letters as MS Search writes them)")
    elif codec is not None:
        report.notes.append(f"{source}: not UTF-8; read as {codec}")
    query: str | None = None
    factor: int | None = None
    hits: list[NistHit] = []
    started = False

    def close() -> None:
        if started:
            report.hit_lists.append(NistHitList(query, factor, tuple(hits)))

    # Lines end at CR/LF only (str.splitlines would also break at \x1c-\x1e, \x85...).
    for number, line in enumerate(_LINES.split(text), start=1):
        if not line.strip():
            continue
        if (match := _UNKNOWN.match(line)) is not None:
            close()
            query, factor, hits, started = match.group(1), int(match.group(2)), [], True
            continue
        match = _HIT.match(line)
        if match is None:
            report.skipped.append(SkippedEntry(source, f"line {number}",
                                               "neither an 'Unknown:' nor a 'Hit n :' line "
                                               f"that parses: {line[:80]!r}"))
            continue
        hit = _hit(match)
        if not started:
            report.skipped.append(SkippedEntry(source, f"line {number}",
                                               "a hit before any 'Unknown:' line"))
            continue
        if hit.rank == 1 and hits:
            close()
            report.notes.append(f"{source}: line {number}: 'Hit 1' with no 'Unknown:' line "
                                "before it; read as a hit list of an unnamed query")
            query, factor, hits = None, None, []
        hits.append(hit)
    close()
    if not report.hit_lists and not report.skipped:
        raise FormatError(f"{source}: no 'Unknown:' or 'Hit' line; not a NIST MS Search "
                          "result file")
    if not report.hit_lists:
        raise FormatError(f"{source}: no hit list could be read ({report.skipped[0].reason})")
    return report


def from_search_results(results: Iterable[Any], *, library_name: str = "gcms"
                        ) -> list[NistHitList]:
    """Hit lists in NIST's terms from :class:`gcms.library.SearchResult` values.

    ``Id`` is the 1-based library entry number (``library_index + 1``, as MS Search
    numbers a library's entries); the InLib factor, which gcms does not compute, is 0.
    """
    out = []
    for result in results:
        hits = tuple(
            NistHit(rank=h.rank, name=h.name or f"entry {h.library_index + 1}",
                    formula=h.formula, match_factor=int(h.match_factor),
                    reverse_match_factor=int(h.reverse_match_factor),
                    probability=round(float(h.probability), 2), cas=h.cas,
                    mw=None if h.mw is None else float(round(h.mw)),
                    library=library_name, library_id=int(h.library_index) + 1,
                    retention_index=h.retention_index)
            for h in result.hits)
        out.append(NistHitList(result.query, 0, hits))
    return out


def _text(value: str | None, what: str) -> str:
    text = "" if value is None else str(value)
    if "\r" in text or "\n" in text or ">>" in text:
        raise ValueError(f"{what} {text!r} holds a line break or '>>'; it cannot be written "
                         "in the NIST hit-list layout")
    return text


def _number(value: float | None) -> str:
    if value is None:
        return "0"
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _hit_line(hit: NistHit, with_ri: bool) -> str:
    rank = f"Hit {hit.rank}".ljust(6)
    line = (f"{rank} : <<{_text(hit.name, 'name')}>>;<<{_text(hit.formula, 'formula')}>>; "
            f"MF: {hit.match_factor}; RMF: {hit.reverse_match_factor}; "
            f"Prob: {hit.probability:.2f}; CAS:{hit.cas or 0}; Mw: {_number(hit.mw)}; "
            f"Lib: <<{_text(hit.library, 'library')}>>; Id: {hit.library_id}")
    if with_ri:
        line += f"; RI: {_number(hit.retention_index)}"
    return line + "."


def write(hit_lists: Sequence[NistHitList] | Iterable[Any], path: str | os.PathLike, *,
          library_name: str = "gcms", encoding: str = "utf-8") -> None:
    """Write hit lists in the NIST MS Search ``SRCRESLT.TXT`` layout (CRLF lines).

    ``hit_lists`` are :class:`NistHitList` values or :class:`gcms.library.SearchResult`
    values (converted by :func:`from_search_results` with ``library_name``). ``RI`` is
    written on every hit when any hit has one. The default encoding is UTF-8 (read back
    by :func:`read`); pass ``encoding="cp1252"`` for MS Search versions that expect it.

    Raises
    ------
    ValueError
        A name, formula or library name holds a line break or ``>>``; a query name holds
        a line break or ends in white space (MS Search pads that column).
    """
    lists = [h if isinstance(h, NistHitList)
             else from_search_results([h], library_name=library_name)[0]
             for h in hit_lists]
    with_ri = any(hit.retention_index is not None for hl in lists for hit in hl.hits)
    lines = []
    for hit_list in lists:
        query = _text(hit_list.query, "query")
        if "Compound in Library Factor" in query or query != query.rstrip():
            raise ValueError(f"query {query!r} cannot be written in this layout")
        lines.append(f"Unknown: {query.ljust(_QUERY_COLUMN)}Compound in Library Factor = "
                     f"{hit_list.in_library_factor or 0}")
        lines += [_hit_line(hit, with_ri) for hit in hit_list.hits]
    with open(path, "w", encoding=encoding, newline="\r\n") as handle:
        handle.write("\n".join(lines) + "\n")
