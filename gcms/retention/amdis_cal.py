"""AMDIS ``.CAL`` retention-index calibration files, read and written.

Layout (AMDIS user guide, "RI calibration"; files written by AMDIS and by ChemClipse)::

    #COLUMN_NAME=DB5            optional header lines "#KEY=value" (ChemClipse adds
    #COLUMN_LENGTH=             COLUMN_NAME/LENGTH/DIAMETER/PHASE; AMDIS ignores them)
    10.214 1600.0 100 981 Hexadecane

One marker per line, fields separated by blanks: retention time in **minutes**, retention
index, AMDIS "Net" match (percent), "S/N (total)", then the marker's name (the rest of
the line, which may hold blanks: ``C6 (Hexane)``, ``KW 800``). Lines end in CRLF when
AMDIS wrote them; the last line may lack an end of line. AMDIS stores no dead time, so a
``.CAL`` file always reads as a Van den Dool & Kratz calibration.
"""

from __future__ import annotations

import hashlib
import math
import os
from pathlib import Path
from typing import cast

import numpy as np

from gcms.errors import FormatError
from gcms.retention.calibration import RetentionCalibration

__all__ = ["read_amdis_cal", "write_amdis_cal"]


def _decode(path: Path, data: bytes) -> str:
    # AMDIS is a Windows program: names are in the ANSI code page when not ASCII.
    for encoding in ("utf-8", "cp1252"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise FormatError(f"{path}: not a text file (neither UTF-8 nor Windows-1252)")


def read_amdis_cal(path: str | os.PathLike) -> RetentionCalibration:
    """Read an AMDIS ``.CAL`` file into a :class:`RetentionCalibration`.

    Raises
    ------
    FormatError
        A marker line that does not hold time, index, two numbers and a name; markers
        out of order; fewer than two markers. The message names the file and line.
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as error:
        raise FormatError(f"{path}: cannot open: {error.strerror or error}") from error
    text = _decode(path, data)
    column: dict[str, str] = {}
    rt_min, ri, net, sn, names = [], [], [], [], []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        if line.startswith("#"):
            key, sep, value = line[1:].partition("=")
            if sep:
                column[key.strip()] = value.strip()
            continue
        fields = line.split(maxsplit=4)
        if len(fields) < 5:
            raise FormatError(
                f"{path}: line {number}: want 'time index net s/n name', got {line!r}"
            )
        try:
            values = [float(v) for v in fields[:4]]
        except ValueError:
            raise FormatError(f"{path}: line {number}: non-numeric field in {line!r}") from None
        if not all(math.isfinite(v) for v in values):
            raise FormatError(f"{path}: line {number}: non-finite number in {line!r}")
        rt_min.append(values[0])
        ri.append(values[1])
        net.append(values[2])
        sn.append(values[3])
        names.append(fields[4].strip())
    if len(rt_min) < 2:
        raise FormatError(f"{path}: {len(rt_min)} calibration marker(s); need at least 2")
    source = {"path": str(path), "sha256": hashlib.sha256(data).hexdigest(),
              "format": "amdis-cal"}
    try:
        return RetentionCalibration(
            rt_seconds=np.asarray(rt_min) * 60.0,
            retention_index=np.asarray(ri),
            names=tuple(names),
            series=_series_of(names),
            match_percent=np.asarray(net),
            signal_to_noise=np.asarray(sn),
            column=column,
            source=source,
        )
    except ValueError as error:
        raise FormatError(f"{path}: {error}") from error


def _series_of(names: list[str]) -> str:
    # AMDIS files do not say what the markers are; the names usually do.
    lowered = " ".join(names).lower()
    if "ane" in lowered or all(n.upper().startswith("C") for n in names):
        return "n-alkanes"
    return "unspecified"


def _integer_field(value: float) -> str:
    return "0" if not math.isfinite(value) else str(int(round(value)))


def write_amdis_cal(calibration: RetentionCalibration, path: str | os.PathLike) -> None:
    """Write ``calibration`` as an AMDIS ``.CAL`` file (CRLF line ends, times in minutes).

    Header lines are written only for the column entries the calibration carries.
    Unknown Net and S/N are written as 0 (never an invented quality). A Kovats
    calibration cannot be written: the format has no dead time and AMDIS would read it
    as linear.
    """
    if calibration.method != "van-den-dool-kratz":
        raise ValueError(
            "an AMDIS .CAL file holds no dead time: only a van-den-dool-kratz "
            "calibration can be written"
        )
    lines = [f"#{key}={value}" for key, value in calibration.column.items()]
    for rt, ri, net, sn, name in zip(
        calibration.rt_seconds / 60.0, calibration.retention_index,
        cast(np.ndarray, calibration.match_percent),  # arrays once constructed
        cast(np.ndarray, calibration.signal_to_noise), calibration.names,
        strict=True,
    ):
        if any(c in name for c in "\r\n") or not name.strip():
            raise ValueError(f"marker name {name!r} cannot be written on one line")
        lines.append(f"{rt:.5f} {ri:.1f} {_integer_field(net)} {_integer_field(sn)} {name}")
    with open(path, "w", encoding="utf-8", newline="\r\n") as handle:
        handle.write("\n".join(lines) + "\n")
