"""The compiled library file (HDF5) and the :class:`Library` that holds it in memory.

Layout of format version 1 (h5py; every string UTF-8)::

    /                      attrs: format = "gcms.library", format_version = 1,
                                  content_sha256, n_entries, n_peaks, title,
                                  gcms_version, created_utc
    /peaks/indptr          int64  (n_entries + 1)   CSR row pointers
    /peaks/mz              uint16 (n_peaks)         nominal m/z, ascending within a row
    /peaks/abundance       uint16 (n_peaks)         1..999, base peak 999
    /entries/<column>      one value per entry: the text columns of ENTRY_TEXT_COLUMNS
                           (vlen str, "" = not stated), the float columns of
                           ENTRY_FLOAT_COLUMNS (float64, NaN = not stated)
    /build/sources         JSON: every source file read (path, sha256, counts)
    /build/skipped         JSON: every entry left out (file, entry, reason)

The spectra are stored as MS Search compares them (:func:`gcms.library._peaks.search_peaks`:
nominal m/z, base peak 999, integer abundances); each entry names the file and entry
it came from and that file's SHA-256, and in-house entries carry a JSON ``provenance``
(run, its SHA-256, instrument, acquisition date, RT, RI) so a hit can be traced to the
evidence it was made from.

``identity_sha256`` (:func:`identity_sha256`) covers what a report says about the library
as well: the content hash, the title, and the source files it was built from (name and
SHA-256), so a library renamed "... (validated)" is another library; a method or lab
profile pins the identities it accepts.

``content_sha256`` is the SHA-256 of the canonical content: the peak arrays
(little-endian) and every entry column (as canonical JSON), in a fixed order, and the
format version. It does not depend on when or where the file was written, so the same
sources give the same hash; every search result records it. :meth:`Library.open`
recomputes it and refuses a file whose content no longer matches.

The peak arrays are stored contiguous and uncompressed so that :meth:`Library.open`
memory-maps them read-only instead of copying.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from gcms._files import replacing
from gcms.errors import LibraryError
from gcms.library._peaks import PeakMatrix, search_peaks
from gcms.spectrum import Spectrum

__all__ = [
    "ENTRY_FLOAT_COLUMNS",
    "ENTRY_TEXT_COLUMNS",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "Library",
    "LibraryEntry",
    "identity_sha256",
]

FORMAT_NAME = "gcms.library"
FORMAT_VERSION = 1

#: Text metadata of each entry ("" when the source does not state it). ``synonyms`` and
#: ``provenance`` hold JSON (a list of names; an object for in-house entries).
ENTRY_TEXT_COLUMNS = (
    "name", "synonyms", "cas", "formula", "inchikey", "ri_column",
    "source_file", "source_entry", "source_sha256", "comment", "provenance",
)
#: Numeric metadata of each entry (NaN when not stated).
ENTRY_FLOAT_COLUMNS = ("mw", "retention_index", "rt_seconds")


@dataclass(frozen=True, slots=True)
class LibraryEntry:
    """Metadata of one library entry, as stored (``None`` where the source is silent)."""

    index: int
    name: str | None
    synonyms: tuple[str, ...]
    cas: str | None
    formula: str | None
    inchikey: str | None
    mw: float | None
    retention_index: float | None
    ri_column: str | None
    rt_seconds: float | None
    source_file: str | None
    source_entry: str | None
    source_sha256: str | None
    comment: str | None
    provenance: Mapping[str, Any] | None = field(default=None)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict for JSON."""
        out = {name: getattr(self, name) for name in self.__slots__}
        out["synonyms"] = list(self.synonyms)
        out["provenance"] = dict(self.provenance) if self.provenance is not None else None
        return out


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _number(value: Any) -> float:
    if value is None:
        return math.nan
    number = float(value)
    return number if math.isfinite(number) else math.nan


def _columns_from_spectra(
    spectra: Sequence[Spectrum],
    provenance: Sequence[Mapping[str, Any] | None] | None,
    source_sha256: Mapping[str, str] | None,
) -> dict[str, np.ndarray]:
    if provenance is not None and len(provenance) != len(spectra):
        raise ValueError(f"{len(provenance)} provenance records for {len(spectra)} spectra")
    hashes = source_sha256 or {}
    text: dict[str, list[str]] = {name: [] for name in ENTRY_TEXT_COLUMNS}
    numbers: dict[str, list[float]] = {name: [] for name in ENTRY_FLOAT_COLUMNS}
    for i, s in enumerate(spectra):
        record = provenance[i] if provenance is not None else None
        text["name"].append(_text(s.name))
        text["synonyms"].append(
            json.dumps(list(s.synonyms), ensure_ascii=False) if s.synonyms else ""
        )
        text["cas"].append(_text(s.cas))
        text["formula"].append(_text(s.formula))
        text["inchikey"].append(_text(s.inchikey))
        text["ri_column"].append(_text(s.ri_column))
        text["source_file"].append(_text(s.source))
        text["source_entry"].append(_text(s.source_entry))
        text["source_sha256"].append(_text(hashes.get(s.source or "", "")))
        text["comment"].append(_text(s.comment))
        text["provenance"].append(
            json.dumps(dict(record), ensure_ascii=False, sort_keys=True, default=str)
            if record else ""
        )
        numbers["mw"].append(_number(s.mw))
        numbers["retention_index"].append(_number(s.retention_index))
        numbers["rt_seconds"].append(_number(s.rt_seconds))
    columns: dict[str, np.ndarray] = {
        name: np.array(values, dtype=object) for name, values in text.items()
    }
    columns.update({name: np.array(v, dtype=np.float64) for name, v in numbers.items()})
    return columns


def content_sha256(peaks: PeakMatrix, columns: Mapping[str, np.ndarray]) -> str:
    """SHA-256 of the canonical content of a library (see the module docstring)."""
    digest = hashlib.sha256()
    digest.update(f"{FORMAT_NAME}\0{FORMAT_VERSION}\0".encode())
    for name, array, dtype in (
        ("indptr", peaks.indptr, "<i8"),
        ("mz", peaks.mz, "<u2"),
        ("abundance", peaks.abundance, "<u2"),
    ):
        digest.update(f"{name}\0".encode())
        digest.update(np.ascontiguousarray(array, dtype=dtype).tobytes())
    for name in ENTRY_TEXT_COLUMNS:
        digest.update(f"{name}\0".encode())
        digest.update(json.dumps([str(v) for v in columns[name]],
                                 ensure_ascii=False).encode("utf-8"))
    for name in ENTRY_FLOAT_COLUMNS:
        values = [None if math.isnan(v) else repr(float(v)) for v in columns[name]]
        digest.update(f"{name}\0".encode())
        digest.update(json.dumps(values).encode("utf-8"))
    return digest.hexdigest()


def identity_sha256(content: str, title: str, sources: Sequence[Mapping[str, Any]]) -> str:
    """SHA-256 of a library's identity: its content hash, title and source files.

    Canonical JSON (sorted keys, UTF-8) of ``{"content_sha256", "title", "sources"}``,
    each source as its file name and SHA-256 (where it was read from is left out: the
    same release built elsewhere is the same library). The library's version is what
    its title and source files state.
    """
    document = {
        "content_sha256": content, "title": title,
        "sources": [{"file": Path(str(s.get("path") or "")).name, "sha256": s.get("sha256")}
                    for s in sources],
    }
    text = json.dumps(document, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class Library:
    """A compiled reference library: preprocessed spectra (CSR) plus entry metadata.

    Build one with :func:`gcms.library.build_library` (from MSP/JCAMP-DX/MassBank
    files) or :meth:`from_spectra`; open a compiled file with :meth:`open`; search with
    :meth:`search`. The spectra arrays are read-only (memory-mapped when opened).
    """

    def __init__(
        self,
        peaks: PeakMatrix,
        columns: Mapping[str, np.ndarray],
        *,
        title: str = "",
        path: Path | None = None,
        sources: Sequence[Mapping[str, Any]] = (),
        skipped: Sequence[Mapping[str, Any]] = (),
        sha256: str | None = None,
    ) -> None:
        n = len(peaks)
        for name in (*ENTRY_TEXT_COLUMNS, *ENTRY_FLOAT_COLUMNS):
            if name not in columns:
                raise LibraryError(f"{path or 'library'}: entry column {name!r} missing")
            if len(columns[name]) != n:
                raise LibraryError(f"{path or 'library'}: column {name!r} has "
                                   f"{len(columns[name])} values for {n} entries")
        self.peaks = peaks
        self._columns = dict(columns)
        self.title = title
        self.path = path
        self.sources = tuple(dict(s) for s in sources)
        self.skipped = tuple(dict(s) for s in skipped)
        self.content_sha256 = sha256 or content_sha256(peaks, self._columns)
        self._index = None

    @property
    def identity_sha256(self) -> str:
        """The library's identity: content, title and sources (:func:`identity_sha256`)."""
        return identity_sha256(self.content_sha256, self.title, self.sources)

    # -- construction -------------------------------------------------------------------

    @classmethod
    def from_spectra(
        cls,
        spectra: Sequence[Spectrum],
        *,
        title: str = "",
        provenance: Sequence[Mapping[str, Any] | None] | None = None,
        source_sha256: Mapping[str, str] | None = None,
        sources: Sequence[Mapping[str, Any]] = (),
        skipped: Sequence[Mapping[str, Any]] = (),
    ) -> Library:
        """An in-memory library of ``spectra`` (each must have a positive peak).

        ``provenance`` gives, per spectrum, the record of where an in-house entry comes
        from (``None`` for reference entries); ``source_sha256`` maps a spectrum's
        ``source`` path to that file's SHA-256.

        Parameters
        ----------
        spectra : sequence of Spectrum
            The entries, in order (their index in the library).
        title : str, optional
            The library's title.
        provenance : sequence of (Mapping or None), optional
            Per spectrum, where an in-house entry comes from.
        source_sha256 : Mapping of str to str, optional
            SHA-256 of each source file, by the spectra's ``source``.
        sources, skipped : sequence of Mapping, optional
            The files read and the entries left out, as a build records them.

        Returns
        -------
        Library
            Peaks preprocessed as MS Search does (nominal m/z, base peak 999), with the
            entries' metadata; :meth:`write` stores it.

        Raises
        ------
        LibraryError
            A spectrum without any peak of positive intensity (names it).

        Examples
        --------
        >>> import pathlib, tempfile
        >>> from gcms import Spectrum
        >>> from gcms.library import Library
        >>> library = Library.from_spectra([
        ...     Spectrum(mz=[44, 65, 91, 120], intensity=[999, 80, 300, 20], name="Amphetamine"),
        ...     Spectrum(mz=[82, 94, 194], intensity=[200, 150, 999], name="Caffeine")])
        >>> len(library), library.entry(1).name
        (2, 'Caffeine')
        >>> path = library.write(pathlib.Path(tempfile.mkdtemp()) / "lab.h5")
        >>> len(Library.open(path))
        2
        """
        try:
            peaks = PeakMatrix.from_spectra(spectra)
        except ValueError as error:
            raise LibraryError(f"cannot add to library: {error}") from error
        columns = _columns_from_spectra(spectra, provenance, source_sha256)
        return cls(peaks, columns, title=title, sources=sources, skipped=skipped)

    def __len__(self) -> int:
        return len(self.peaks)

    def __repr__(self) -> str:
        where = f" {str(self.path)!r}" if self.path else ""
        return f"Library({len(self)} entries{where}, sha256={self.content_sha256[:12]})"

    # -- metadata -----------------------------------------------------------------------

    def column(self, name: str) -> np.ndarray:
        """One metadata column (object array of str, or float64 with NaN), read-only."""
        try:
            values = self._columns[name]
        except KeyError:
            known = ", ".join((*ENTRY_TEXT_COLUMNS, *ENTRY_FLOAT_COLUMNS))
            raise KeyError(f"no entry column {name!r} (known: {known})") from None
        view = values.view()
        view.flags.writeable = False
        return view

    def entry(self, index: int) -> LibraryEntry:
        """Metadata of entry ``index``.

        Parameters
        ----------
        index : int
            0 to ``len(library) - 1``.

        Returns
        -------
        LibraryEntry
            Name, synonyms, CAS, formula, InChIKey, retention index and source.

        Raises
        ------
        IndexError
            ``index`` out of range.
        """
        i = int(index)
        if not 0 <= i < len(self):
            raise IndexError(f"library entry {i} out of range 0..{len(self) - 1}")
        c = self._columns

        def text(name: str) -> str | None:
            value = str(c[name][i])
            return value or None

        def number(name: str) -> float | None:
            value = float(c[name][i])
            return None if math.isnan(value) else value

        synonyms = tuple(json.loads(c["synonyms"][i])) if c["synonyms"][i] else ()
        provenance = json.loads(c["provenance"][i]) if c["provenance"][i] else None
        return LibraryEntry(
            index=i, name=text("name"), synonyms=synonyms, cas=text("cas"),
            formula=text("formula"), inchikey=text("inchikey"), mw=number("mw"),
            retention_index=number("retention_index"), ri_column=text("ri_column"),
            rt_seconds=number("rt_seconds"), source_file=text("source_file"),
            source_entry=text("source_entry"), source_sha256=text("source_sha256"),
            comment=text("comment"), provenance=provenance,
        )

    def spectrum(self, index: int) -> Spectrum:
        """Entry ``index`` as a :class:`gcms.Spectrum` (the stored, preprocessed peaks).

        Parameters
        ----------
        index : int
            0 to ``len(library) - 1``.

        Returns
        -------
        Spectrum
            The stored peaks with the entry's metadata.
        """
        e = self.entry(index)
        mz, abundance = self.peaks.row(e.index)
        return Spectrum(
            mz=mz.astype(np.float64), intensity=abundance.astype(np.float64), name=e.name,
            synonyms=e.synonyms, cas=e.cas, formula=e.formula, mw=e.mw, inchikey=e.inchikey,
            retention_index=e.retention_index, ri_column=e.ri_column,
            rt_seconds=e.rt_seconds, source=e.source_file, source_entry=e.source_entry,
            comment=e.comment,
        )

    def info(self) -> dict[str, Any]:
        """Summary for ``gcms library info``: counts, m/z range, hash, sources, skips."""
        lengths = np.diff(self.peaks.indptr)
        ri = self._columns["retention_index"]
        provenance = self._columns["provenance"]
        return {
            "path": str(self.path) if self.path else None,
            "title": self.title,
            "format_version": FORMAT_VERSION,
            "content_sha256": self.content_sha256,
            "identity_sha256": self.identity_sha256,
            "n_entries": len(self),
            "n_peaks": self.peaks.nnz,
            "peaks_per_entry_median": float(np.median(lengths)) if len(self) else None,
            "mz_range": [int(self.peaks.mz.min()), int(self.peaks.mz.max())]
            if self.peaks.nnz else None,
            "n_with_inchikey": int(sum(1 for v in self._columns["inchikey"] if v)),
            "n_with_retention_index": int(np.isfinite(ri).sum()),
            "n_in_house": int(sum(1 for v in provenance if v)),
            "sources": [dict(s) for s in self.sources],
            "n_skipped": len(self.skipped),
            "skipped": [dict(s) for s in self.skipped],
        }

    # -- files --------------------------------------------------------------------------

    def write(self, path: str | os.PathLike) -> Path:
        """Write the library to ``path`` (HDF5), atomically: a temporary file then rename.

        An existing file at ``path`` is replaced only once the new one is complete.

        Parameters
        ----------
        path : str or os.PathLike
            Where to write (conventionally ``.h5``).

        Returns
        -------
        pathlib.Path
            The path written.
        """
        import h5py

        path = Path(path)
        with replacing(path) as tmp, h5py.File(tmp, "w") as h5:
            h5.attrs["format"] = FORMAT_NAME
            h5.attrs["format_version"] = FORMAT_VERSION
            h5.attrs["content_sha256"] = self.content_sha256
            h5.attrs["n_entries"] = len(self)
            h5.attrs["n_peaks"] = self.peaks.nnz
            h5.attrs["title"] = self.title
            from gcms import __version__

            h5.attrs["gcms_version"] = __version__
            h5.attrs["created_utc"] = datetime.datetime.now(datetime.timezone.utc
                                                            ).isoformat(timespec="seconds")
            group = h5.create_group("peaks")
            group.create_dataset("indptr", data=self.peaks.indptr.astype("<i8"))
            group.create_dataset("mz", data=self.peaks.mz.astype("<u2"))
            group.create_dataset("abundance", data=self.peaks.abundance.astype("<u2"))
            entries = h5.create_group("entries")
            text = h5py.string_dtype("utf-8")
            for name in ENTRY_TEXT_COLUMNS:
                entries.create_dataset(name, data=[str(v) for v in self._columns[name]],
                                       dtype=text)
            for name in ENTRY_FLOAT_COLUMNS:
                entries.create_dataset(name, data=self._columns[name].astype("<f8"))
            build = h5.create_group("build")
            build.create_dataset("sources", data=json.dumps(list(self.sources)),
                                 dtype=text)
            build.create_dataset("skipped", data=json.dumps(list(self.skipped)),
                                 dtype=text)
        self.path = path
        return path

    @classmethod
    def open(cls, path: str | os.PathLike, *, verify: bool = True) -> Library:
        """Open a compiled library file read-only; peaks are memory-mapped.

        Parameters
        ----------
        verify
            Recompute the content hash and refuse the file when it differs from the one
            recorded (a damaged or altered library must not silently score evidence).

        Raises
        ------
        LibraryError
            Not a gcms library, an unknown format version, inconsistent arrays, or a
            content hash that does not match; the message names the file.
        """
        import h5py

        path = Path(path)
        if not path.is_file():
            raise LibraryError(f"{path}: no such library file")
        try:
            h5 = h5py.File(path, "r")
        except OSError as error:
            raise LibraryError(f"{path}: not an HDF5 library file ({error})") from error
        with h5:
            if h5.attrs.get("format") != FORMAT_NAME:
                raise LibraryError(f"{path}: not a gcms library (format attribute "
                                   f"{h5.attrs.get('format')!r})")
            version = int(h5.attrs.get("format_version", -1))
            if version != FORMAT_VERSION:
                raise LibraryError(f"{path}: library format version {version}, this gcms "
                                   f"reads version {FORMAT_VERSION}")
            try:
                indptr = _mapped(path, h5["peaks/indptr"], "<i8")
                mz = _mapped(path, h5["peaks/mz"], "<u2")
                abundance = _mapped(path, h5["peaks/abundance"], "<u2")
                columns: dict[str, np.ndarray] = {}
                for name in ENTRY_TEXT_COLUMNS:
                    columns[name] = np.array(h5["entries"][name].asstr()[()], dtype=object)
                for name in ENTRY_FLOAT_COLUMNS:
                    columns[name] = np.asarray(h5["entries"][name][()], dtype=np.float64)
                sources = json.loads(h5["build/sources"].asstr()[()])
                skipped = json.loads(h5["build/skipped"].asstr()[()])
                recorded = str(h5.attrs["content_sha256"])
                title = str(h5.attrs.get("title", ""))
            except (KeyError, ValueError, TypeError) as error:
                raise LibraryError(f"{path}: damaged library file ({error})") from error
        try:
            peaks = PeakMatrix(indptr, mz, abundance)
        except ValueError as error:
            raise LibraryError(f"{path}: inconsistent peak arrays ({error})") from error
        library = cls(peaks, columns, title=title, path=path, sources=sources,
                      skipped=skipped, sha256=recorded)
        if verify:
            actual = content_sha256(peaks, columns)
            if actual != recorded:
                raise LibraryError(f"{path}: content hash {actual} does not match the "
                                   f"recorded {recorded}: the file was altered or damaged")
        return library

    def append(
        self,
        spectra: Sequence[Spectrum],
        *,
        provenance: Sequence[Mapping[str, Any] | None] | None = None,
        source_sha256: Mapping[str, str] | None = None,
    ) -> Library:
        """A new library: these entries followed by ``spectra`` (for in-house additions).

        The result has its own content hash; write it over the old file with
        :meth:`write` (atomic), so that a library is never left half-appended.
        """
        extra = Library.from_spectra(spectra, provenance=provenance,
                                     source_sha256=source_sha256)
        offset = self.peaks.indptr[-1]
        peaks = PeakMatrix(
            np.concatenate([self.peaks.indptr, extra.peaks.indptr[1:] + offset]),
            np.concatenate([self.peaks.mz, extra.peaks.mz]),
            np.concatenate([self.peaks.abundance, extra.peaks.abundance]),
        )
        columns = {
            name: np.concatenate([self._columns[name], extra._columns[name]])
            for name in (*ENTRY_TEXT_COLUMNS, *ENTRY_FLOAT_COLUMNS)
        }
        return Library(peaks, columns, title=self.title, path=self.path,
                       sources=self.sources, skipped=self.skipped)

    # -- search -------------------------------------------------------------------------

    def search(self, queries, *, top: int = 10, settings=None,
               device: Literal["cpu", "cuda"] = "cpu"):
        """Search ``queries`` (a Spectrum or a sequence) here; see :func:`gcms.library.search`."""
        from gcms.library.search import search

        return search(self, queries, top=top, settings=settings, device=device)


def _mapped(path: Path, dataset, dtype: str) -> np.ndarray:
    """Read-only memory map of a contiguous, uncompressed dataset (else a plain read)."""
    offset = dataset.id.get_offset()
    if dataset.chunks is None and dataset.compression is None and offset is not None:
        if dataset.size == 0:
            return np.zeros(0, dtype=dtype)
        return np.memmap(path, mode="r", dtype=dtype, offset=offset, shape=dataset.shape)
    return np.asarray(dataset[()], dtype=dtype)


def peaks_from_pairs(pairs: Iterable[tuple[np.ndarray, np.ndarray]]) -> PeakMatrix:
    """Pack raw (m/z, intensity) pairs after :func:`search_peaks` (tests, benchmarks)."""
    return PeakMatrix.from_peaks([search_peaks(m, i) for m, i in pairs])
