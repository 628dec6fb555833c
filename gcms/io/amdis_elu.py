"""AMDIS deconvolution results (``.ELU``): one :class:`EluComponent` per component.

AMDIS (NIST's Automated Mass Spectral Deconvolution and Identification System; Stein
1999, J. Am. Soc. Mass Spectrom. 10, 770-781) writes, for each component it extracts,
a block::

    NAME: |SC33|CN2|MP1-MODN:29(%99.8)|AM7152128|PC100|SN1359|WD3.6|TA4.4|TR109.3|...
    RE
    0 1070704 9548166 9189533 9104115
    4769346 2641080 1365312 777166 505631
    380331
    NUM PEAKS: 6
    (16,13 )(28,999 )(29,8 )(32,296 )(34,1 )
    (40,25 N0.2)

Header fields read into typed attributes (AMDIS's own labels, as in the AMDIS manual):

========  ==================================================================
``SC``    scan of the component's apex -> ``scan``
``CN``    component number -> ``component``
``MP``    ``MP<k>-MODN:<ion>(%<purity>)[<tail>]``: model peak ``k``, model ion,
          purity in percent (-> ``purity`` as a fraction) and AMDIS's tail after it
          (``-28``: kept verbatim in ``model_tail``, not interpreted)
``AM``    amount (abundance units of the run) -> ``amount``
``PC``    percent of the total signal -> ``percent_total``
``SN``    signal to noise -> ``snr``
``WD``    width in scans; ``>13`` means at least 13 -> ``width_scans`` and
          ``width_is_lower_bound``
``FR``    scan range of the profile ``RE`` (``FR14-23``) -> ``first_scan``, ``last_scan``
``RT``    retention time in minutes -> ``rt_seconds``
``MO``    ``MO<n>: ion ion ...``: the model ions -> ``model_ions`` (``n`` checked)
========  ==================================================================

``TA``, ``TR``, ``MN``, ``RA``, ``RB``, ``IS``, ``XN``, ``EW``, ``FG``, ``TN``, ``OR``
and ``NT`` are AMDIS internals (tailing, fit quality, noise and extraction settings);
they are kept verbatim in ``fields`` (every header field is, in file order) and not
interpreted. ``RE`` is the model peak's profile, one value per scan from ``FR``'s first
to its last scan (AMDIS writes as many values as that range holds; a block where the
counts differ keeps the profile as written and says so in ``fields["gcms.note"]``).

Peaks are ``(m/z,abundance[ flag])``; abundances are scaled to 999. AMDIS marks some ions
with an uncertainty flag, a letter and a number (``N0.2``, ``B0.3``, ``L1.0``); the flags
are kept per peak in ``flag`` and ``flag_value`` (``""`` and NaN where none), sorted with
the peaks, and not interpreted (AMDIS does not document them beyond the letters).

Why a type of its own rather than :class:`gcms.deconvolution.Component`: the readers sit
below deconvolution (layers point one way), and AMDIS's fields are not gcms's (amount
and S/N on AMDIS's scales, several model ions, flags); :mod:`gcms.interop` compares the
two. Malformed blocks are skipped, each listed in ``report.skipped`` with file, entry
(the 1-based block number and its ``CN``) and reason, like the library readers do.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, cast

import numpy as np

from gcms._arrays import frozen_array
from gcms.errors import FormatError
from gcms.io._common import SkippedEntry, decode_text, evidence_bytes, peak_problem
from gcms.spectrum import Spectrum

__all__ = ["EluComponent", "EluReport", "read", "sniff"]

_BLOCK_START = re.compile(r"^[ \t]*NAME[ \t]*:", re.IGNORECASE | re.MULTILINE)
_MP = re.compile(r"^(\d+)-MODN:(\d+)\(%(\d+(?:\.\d*)?)\)(.*)$")
_MO = re.compile(r"^(\d+):((?:[ \t]*\d+)*)[ \t]*$")
_FR = re.compile(r"^(\d+)-(\d+)$")
_PEAK = re.compile(r"\(([^()]*)\)")
_PEAK_INNER = re.compile(r"^[ \t]*([-+]?\d+(?:\.\d*)?)[ \t]*,[ \t]*([-+]?\d+(?:\.\d*)?)"
                         r"[ \t]*(?:([A-Za-z])[ \t]*([-+]?\d+(?:\.\d*)?))?[ \t]*$")
_NUM_PEAKS = re.compile(r"^[ \t]*NUM[ \t]*PEAKS[ \t]*:[ \t]*(\d+)[ \t]*$", re.IGNORECASE)
_REQUIRED = ("SC", "CN", "MP", "AM", "SN", "WD", "FR", "RT", "MO")


@dataclass(frozen=True, slots=True, eq=False)
class EluComponent:
    """One AMDIS component as its ``.ELU`` block states it (see the module docstring)."""

    component: int
    scan: int
    rt_seconds: float
    model_peak: int
    model_mz: int
    purity: float
    model_tail: str
    model_ions: tuple[int, ...]
    amount: float
    percent_total: float | None
    snr: float
    width_scans: float
    width_is_lower_bound: bool
    first_scan: int
    last_scan: int
    profile: np.ndarray
    spectrum: Spectrum
    flag: np.ndarray
    flag_value: np.ndarray
    fields: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "profile", frozen_array(self.profile, np.float64,
                                                         name="profile"))
        object.__setattr__(self, "flag_value", frozen_array(self.flag_value, np.float64,
                                                            name="flag_value"))
        flag = np.array(self.flag, dtype="<U1")
        flag.setflags(write=False)
        object.__setattr__(self, "flag", flag)
        if flag.shape != self.spectrum.mz.shape or self.flag_value.shape != flag.shape:
            raise ValueError("flag and flag_value need one value per peak")
        object.__setattr__(self, "model_ions", tuple(int(i) for i in self.model_ions))
        object.__setattr__(self, "fields", MappingProxyType(dict(self.fields)))

    def __repr__(self) -> str:
        return (f"EluComponent(CN{self.component}, rt_s={self.rt_seconds:.2f}, "
                f"model_mz={self.model_mz}, {len(self.spectrum)} peaks)")

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON (flag values NaN as ``None``)."""
        return {
            "component": self.component, "scan": self.scan, "rt_seconds": self.rt_seconds,
            "model_peak": self.model_peak, "model_mz": self.model_mz, "purity": self.purity,
            "model_tail": self.model_tail, "model_ions": list(self.model_ions),
            "amount": self.amount, "percent_total": self.percent_total, "snr": self.snr,
            "width_scans": self.width_scans, "width_is_lower_bound": self.width_is_lower_bound,
            "first_scan": self.first_scan, "last_scan": self.last_scan,
            "profile": self.profile.tolist(),
            "spectrum": {"mz": self.spectrum.mz.tolist(),
                         "intensity": self.spectrum.intensity.tolist()},
            "flag": self.flag.tolist(),
            "flag_value": [None if math.isnan(v) else v for v in self.flag_value.tolist()],
            "fields": dict(self.fields),
        }


@dataclass(slots=True)
class EluReport:
    """What :func:`read` got from one ``.ELU``: components, skipped blocks, file digest."""

    components: list[EluComponent] = field(default_factory=list)
    skipped: list[SkippedEntry] = field(default_factory=list)
    sha256: str | None = None


def sniff(path: str | os.PathLike, head: bytes) -> bool:
    """Whether ``head`` starts like an AMDIS ``.ELU`` file (``NAME: |SC<scan>|``)."""
    return re.match(rb"\s*NAME[ \t]*:[ \t]*\|SC\d", head.lstrip(b"\xef\xbb\xbf")) is not None


class _Bad(Exception):
    """A block that cannot be read; the message is the reason."""


def _float(fields: Mapping[str, str], key: str) -> float:
    text = fields[key]
    try:
        value = float(text)
    except ValueError:
        raise _Bad(f"{key} is not a number: {text!r}") from None
    if not math.isfinite(value):
        raise _Bad(f"{key} is not a finite number: {text!r}")
    return value


def _header(line: str) -> dict[str, str]:
    body = line.split(":", 1)[1].strip()
    if not body.startswith("|"):
        raise _Bad("the NAME line does not start with '|' (not an AMDIS component)")
    fields: dict[str, str] = {}
    for part in body.split("|")[1:]:
        part = part.strip()
        if not part:
            continue
        key, value = part[:2], part[2:]
        if not key.isalpha() or not key.isupper():
            raise _Bad(f"header field {part!r} has no two-letter AMDIS label")
        if key in fields:
            raise _Bad(f"header field {key} appears twice")
        fields[key] = value
    missing = [k for k in _REQUIRED if k not in fields]
    if missing:
        raise _Bad(f"header lacks {', '.join(missing)}")
    return fields


def _peaks(lines: list[str]) -> tuple[np.ndarray, np.ndarray, list[str], list[float]]:
    text = " ".join(lines)
    if _PEAK.sub("", text).strip():
        raise _Bad(f"text outside the (m/z,abundance) pairs: {_PEAK.sub('', text).strip()[:40]!r}")
    mz, abundance, flag, value = [], [], [], []
    for inner in _PEAK.findall(text):
        match = _PEAK_INNER.match(inner)
        if match is None:
            raise _Bad(f"peak ({inner}) is not (m/z,abundance[ flag])")
        mz.append(float(match.group(1)))
        abundance.append(float(match.group(2)))
        flag.append(match.group(3) or "")
        value.append(float(match.group(4)) if match.group(4) else math.nan)
    return np.array(mz), np.array(abundance), flag, value


def _component(lines: list[str], source: str, entry: int) -> EluComponent:
    fields = _header(lines[0])
    try:
        re_at = next(i for i, ln in enumerate(lines) if ln.strip().upper() == "RE")
        np_at = next(i for i, ln in enumerate(lines) if _NUM_PEAKS.match(ln))
    except StopIteration:
        raise _Bad("no RE line or no NUM PEAKS line") from None
    if not re_at < np_at:
        raise _Bad("NUM PEAKS comes before RE")
    try:
        profile = np.array(" ".join(lines[re_at + 1:np_at]).split(), dtype=np.float64)
    except ValueError:
        raise _Bad("the RE profile holds a value that is not a number") from None
    mz, abundance, flag, flag_value = _peaks(lines[np_at + 1:])
    declared = int(cast(re.Match[str], _NUM_PEAKS.match(lines[np_at])).group(1))
    if declared != mz.size:
        raise _Bad(f"NUM PEAKS says {declared} but {mz.size} pairs follow")
    if mz.size == 0 or not np.any(abundance > 0):
        raise _Bad("no peak of positive abundance")
    if (problem := peak_problem(mz, abundance)) is not None:
        raise _Bad(problem)
    mp = _MP.match(fields["MP"])
    if mp is None:
        raise _Bad(f"MP is not '<k>-MODN:<ion>(%<purity>)': {fields['MP']!r}")
    mo = _MO.match(fields["MO"])
    if mo is None:
        raise _Bad(f"MO is not '<n>: ion ...': {fields['MO']!r}")
    model_ions = tuple(int(i) for i in mo.group(2).split())
    if int(mo.group(1)) != len(model_ions):
        raise _Bad(f"MO says {mo.group(1)} model ions but lists {len(model_ions)}")
    fr = _FR.match(fields["FR"])
    if fr is None:
        raise _Bad(f"FR is not '<first>-<last>': {fields['FR']!r}")
    first, last = int(fr.group(1)), int(fr.group(2))
    if last < first:
        raise _Bad(f"FR ends before it starts: {fields['FR']!r}")
    if profile.size != last - first + 1:
        fields["gcms.note"] = (f"RE holds {profile.size} values for FR {first}-{last} "
                               f"({last - first + 1} scans)")
    width = fields["WD"]
    lower_bound = width.startswith(">")
    fields_for_width = {"WD": width[1:] if lower_bound else width}
    purity = float(mp.group(3))
    if not 0 <= purity <= 100:
        raise _Bad(f"purity {purity}% is outside 0-100")
    order = np.argsort(mz, kind="stable")
    keep = abundance[order] > 0
    order = order[keep]
    rt_seconds = _float(fields, "RT") * 60.0
    spectrum = Spectrum(mz[order], abundance[order], name=f"{fields['RT']} min, CN{fields['CN']}",
                        rt_seconds=rt_seconds, source=source, source_entry=str(entry),
                        extra={"amdis.component": fields["CN"]})
    return EluComponent(
        component=int(_float(fields, "CN")), scan=int(_float(fields, "SC")),
        rt_seconds=rt_seconds, model_peak=int(mp.group(1)), model_mz=int(mp.group(2)),
        purity=purity / 100.0, model_tail=mp.group(4), model_ions=model_ions,
        amount=_float(fields, "AM"),
        percent_total=_float(fields, "PC") if "PC" in fields else None,
        snr=_float(fields, "SN"), width_scans=_float(fields_for_width, "WD"),
        width_is_lower_bound=lower_bound, first_scan=first, last_scan=last, profile=profile,
        spectrum=spectrum, flag=np.array(flag, dtype="<U1")[order],
        flag_value=np.array(flag_value)[order], fields=fields)


def read(path: str | os.PathLike) -> EluReport:
    """Read every component of an AMDIS ``.ELU`` file.

    Raises
    ------
    FormatError
        The file holds no ``NAME:`` block, or not one block could be read.
    """
    path = Path(path)
    source = str(path)
    with evidence_bytes(path) as evidence:
        raw, sha256 = evidence.raw, evidence.sha256
    text, _codec = decode_text(raw)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    starts = [m.start() for m in _BLOCK_START.finditer(text)]
    if not starts:
        raise FormatError(f"{source}: no 'NAME:' line; not an AMDIS .ELU file")
    report = EluReport(sha256=sha256)
    if text[:starts[0]].strip():
        report.skipped.append(SkippedEntry(source, "0", "text before the first NAME line"))
    for entry, (lo, hi) in enumerate(zip(starts, [*starts[1:], len(text)], strict=True),
                                     start=1):
        lines = [ln for ln in text[lo:hi].split("\n") if ln.strip()]
        try:
            report.components.append(_component(lines, source, entry))
        except _Bad as problem:
            label = re.search(r"\|CN(\d+)", lines[0])
            where = f"{entry} (CN{label.group(1)})" if label else str(entry)
            report.skipped.append(SkippedEntry(source, where, str(problem)))
    if not report.components:
        raise FormatError(f"{source}: no component could be read "
                          f"({report.skipped[0].reason})")
    return report
