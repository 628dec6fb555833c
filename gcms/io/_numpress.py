r"""MS-Numpress decoders: the three numerical codecs msconvert and OpenMS write into mzML.

Teleman J. et al., "Numerical compression schemes for proteomics mass spectrometry data",
Mol. Cell. Proteomics 13 (2014) 1537-1542, and its reference implementation
(MSNumpress.cpp, ms-numpress project). Written here from that specification so that
gcms reads Numpress without the optional C++ extension; the tests check every decoder
bit for bit against that extension (``pynumpress``) where it is installed. The layouts,
byte by byte, are in ``docs/ms-numpress.md``.

Common pieces:

* **Fixed point** ``f``: 8 bytes, an IEEE-754 double stored big-endian.
* **Half-byte integer** (``encodeInt``): a 32-bit integer as 1 to 9 half-bytes (nibbles,
  high nibble of a byte first). The head nibble ``h`` says how many leading nibbles of
  the integer are left out: ``h <= 8``, ``h`` leading ``0x0`` nibbles; ``h > 8``,
  ``h - 8`` leading ``0xF`` nibbles (a negative two's-complement number). The
  ``8 - n`` remaining nibbles follow, least significant first. A stream ends on a byte
  boundary; a last ``0x0`` low nibble is padding (a head of 0 would need 8 more).

Codecs (``x`` the decoded float64 values):

* **linear** (``MS-Numpress linear prediction``, m/z and times): ``f``, then the first
  two values as unsigned 32-bit little-endian integers ``y0, y1``, then half-byte
  integers ``d_i`` (signed 32-bit), the residuals of a linear prediction:
  :math:`y_i = 2 y_{i-1} - y_{i-2} + d_i` (64-bit integer arithmetic),
  :math:`x_i = y_i / f`. Precision: :math:`|x - \hat x| \le 0.5 / f`.
* **pic** (``positive integer``, ion counts): half-byte integers read as unsigned 32-bit,
  :math:`x_i = y_i`. Precision: values were rounded to the nearest integer (0.5).
* **slof** (``short logged float``, intensities): ``f``, then unsigned 16-bit
  little-endian integers ``y_i``, :math:`x_i = \exp(y_i / f) - 1`. Precision: relative
  on :math:`x + 1`, :math:`|\ln(\hat x + 1) - \ln(x + 1)| \le 0.5 / f`.

Where the reference implementation reads past the end of damaged input (or, in
pynumpress, aborts the process), these decoders raise :class:`ValueError` saying where
the data stop; the mzML reader turns that into a ``FormatError`` naming the file.

The half-byte stream is variable-length, so decoding is sequential: the loops are
compiled with numba (about 10 million values in well under a second). ``exp`` is the C
library's (``math.exp`` under numba), as in the reference implementation, so decoded
values match it bit for bit.
"""

from __future__ import annotations

import math

import numba
import numpy as np

__all__ = ["decode_linear", "decode_pic", "decode_slof"]

#: Bytes of the fixed point that opens a linear or slof array.
FIXED_POINT_BYTES = 8
#: Bytes of each of the first two values of a linear array.
LINEAR_START_BYTES = 4


def _as_bytes(data, codec: str) -> np.ndarray:
    """``data`` (bytes, bytearray, memoryview or uint8 array) as a contiguous uint8 array."""
    if isinstance(data, np.ndarray):
        if data.dtype != np.uint8 or data.ndim != 1:
            raise ValueError(f"MS-Numpress {codec}: expected a 1-D uint8 array, got "
                             f"{data.dtype} with shape {data.shape}")
        return np.ascontiguousarray(data)
    return np.frombuffer(data, dtype=np.uint8)


def _fixed_point(data: np.ndarray, codec: str) -> float:
    """The big-endian float64 fixed point at the start of ``data``, checked usable."""
    fixed_point = float(data[:FIXED_POINT_BYTES].view(">f8")[0])
    if not (math.isfinite(fixed_point) and fixed_point > 0.0):
        raise ValueError(f"MS-Numpress {codec}: fixed point {fixed_point!r} is not a "
                         "positive finite number: damaged data")
    return fixed_point


# ---------------------------------------------------------------------------------------
# compiled kernels


@numba.njit(cache=True, nogil=True)
def _count_ints(data, start):
    """Count the half-byte integers in ``data[start:]``.

    Returns ``(count, -1)``, or ``(k, nibble)`` when integer ``k`` (0-based), whose head
    is at nibble ``nibble``, runs past the end.
    """
    total = 2 * data.size
    pos = 2 * start
    count = 0
    while pos < total:
        byte = np.int64(data[pos >> 1])
        head = (byte >> 4) if (pos & 1) == 0 else (byte & 0xF)
        if head == 0 and pos == total - 1:
            break  # the padding nibble of the last byte
        n = head if head <= 8 else head - 8
        if pos + 1 + (8 - n) > total:
            return count, pos
        pos += 1 + (8 - n)
        count += 1
    return count, -1


@numba.njit(cache=True, nogil=True, inline="always")
def _next_int(data, pos):
    """The unsigned 32-bit integer whose head nibble is at ``pos``, and the next ``pos``."""
    byte = np.int64(data[pos >> 1])
    head = (byte >> 4) if (pos & 1) == 0 else (byte & 0xF)
    pos += 1
    if head <= 8:
        n = head
        value = np.int64(0)
    else:
        n = head - 8
        value = (np.int64(0xFFFFFFFF) << (4 * (8 - n))) & np.int64(0xFFFFFFFF)
    for i in range(8 - n):
        byte = np.int64(data[pos >> 1])
        nibble = (byte >> 4) if (pos & 1) == 0 else (byte & 0xF)
        value |= nibble << (4 * i)
        pos += 1
    return value, pos


@numba.njit(cache=True, nogil=True)
def _linear(data, count, y0, y1, fixed_point):
    """Values of a linear array: the two stored ones, then ``count`` predicted ones."""
    out = np.empty(count + 2)
    out[0] = y0 / fixed_point
    out[1] = y1 / fixed_point
    before, last = y0, y1
    pos = 2 * (FIXED_POINT_BYTES + 2 * LINEAR_START_BYTES)
    for i in range(count):
        residual, pos = _next_int(data, pos)
        if residual >= 0x80000000:
            residual -= 0x100000000  # two's complement: the residual is a signed int
        current = 2 * last - before + residual
        out[i + 2] = current / fixed_point
        before, last = last, current
    return out


@numba.njit(cache=True, nogil=True)
def _pic(data, count):
    out = np.empty(count)
    pos = 0
    for i in range(count):
        value, pos = _next_int(data, pos)
        out[i] = value
    return out


@numba.njit(cache=True, nogil=True)
def _slof(data, fixed_point):
    count = (data.size - FIXED_POINT_BYTES) // 2
    out = np.empty(count)
    for i in range(count):
        at = FIXED_POINT_BYTES + 2 * i
        stored = np.int64(data[at]) | (np.int64(data[at + 1]) << 8)
        out[i] = math.exp(stored / fixed_point) - 1.0
    return out


# ---------------------------------------------------------------------------------------
# public decoders


def _count(data: np.ndarray, start: int, codec: str) -> int:
    count, broken_at = _count_ints(data, start)
    if broken_at >= 0:
        raise ValueError(
            f"MS-Numpress {codec}: truncated or damaged data: integer {count + 1} of the "
            f"half-byte stream starts at byte {broken_at // 2} and runs past the end of "
            f"the {data.size}-byte array")
    return int(count)


def decode_linear(data) -> np.ndarray:
    """Decode an MS-Numpress linear-prediction array (MS:1002312) to float64 values.

    ``data``: the bytes after base64 (and zlib) decoding. 8 bytes (fixed point only) is
    an empty array, 12 one value, 16 or more two values plus the half-byte residuals.
    Formula and precision in the module docstring.

    Raises
    ------
    ValueError
        A length no encoder writes (under 8 bytes, 9-11, 13-15), a fixed point that is
        not positive and finite, or a residual that runs past the end.
    """
    data = _as_bytes(data, "linear prediction")
    size = data.size
    if size == FIXED_POINT_BYTES:
        return np.empty(0)
    header = FIXED_POINT_BYTES + LINEAR_START_BYTES
    if size < header or header < size < header + LINEAR_START_BYTES:
        raise ValueError(f"MS-Numpress linear prediction: {size} bytes is not a whole "
                         "array (8 fixed-point bytes, then two 4-byte values): truncated")
    fixed_point = _fixed_point(data, "linear prediction")
    starts = data[FIXED_POINT_BYTES:FIXED_POINT_BYTES + 2 * LINEAR_START_BYTES].view("<u4")
    if size == header:
        return np.array([int(starts[0]) / fixed_point])
    count = _count(data, header + LINEAR_START_BYTES, "linear prediction")
    return _linear(data, count, np.int64(starts[0]), np.int64(starts[1]), fixed_point)


def decode_pic(data) -> np.ndarray:
    """Decode an MS-Numpress positive-integer array (MS:1002313) to float64 values.

    ``data``: half-byte integers and nothing else (no fixed point); empty is empty.

    Raises
    ------
    ValueError
        An integer that runs past the end of the data.
    """
    data = _as_bytes(data, "positive integer")
    count = _count(data, 0, "positive integer")
    return _pic(data, count)


def decode_slof(data) -> np.ndarray:
    """Decode an MS-Numpress short-logged-float array (MS:1002314) to float64 values.

    ``data``: the fixed point, then one 2-byte value per point, so ``8 + 2 n`` bytes.

    Raises
    ------
    ValueError
        Under 8 bytes, an odd number of value bytes, or a fixed point that is not
        positive and finite.
    """
    data = _as_bytes(data, "short logged float")
    size = data.size
    if size < FIXED_POINT_BYTES or (size - FIXED_POINT_BYTES) % 2:
        raise ValueError(f"MS-Numpress short logged float: {size} bytes is not 8 "
                         "fixed-point bytes plus 2 bytes per value: truncated")
    if size == FIXED_POINT_BYTES:
        return np.empty(0)
    return _slof(data, _fixed_point(data, "short logged float"))
