"""What a report states: one frozen dataclass per part of an ISO/IEC 17025 §7.8 report.

A :class:`ReportModel` holds facts, never wording: the renderers (PDF in any language,
JSON, CSV) turn the same model into their form, so the PDF, the JSON a LIMS reads and
the CSV of verdicts cannot disagree. Adapters build a model from a batch's
``results.json`` or from a case store (:mod:`gcms.report.adapters`); tests build models
directly.

The parts follow ISO/IEC 17025:2017 §7.8.2.1 (a)-(p) and §7.8.3, the SWGDRUG
recommendations (both GC and MS evidence reported for a hyphenated technique,
limitations stated) and 21 CFR 11.50 (printed name, UTC time and meaning of every
signature):

=====================================  =============================================
part                                    class
=====================================  =============================================
laboratory (b, c)                       :class:`Laboratory`
item as received (g, h), customer (e)   :class:`ItemReceived`
people (o)                              :class:`Person`
instrument, method, QA status (f)       :class:`InstrumentStatus`
conclusion, limitations (m, n)          :class:`Conclusion`
evidence per component                  :class:`ComponentFinding`, :class:`Criterion`,
                                        :class:`LibraryHit`, :class:`SpectrumTrace`
chromatograms                           :class:`Chromatogram`, :class:`PeakLabel`
quantitation (m, MU per §7.8.3)         :class:`QuantitationRow`
QC runs of the sequence                 :class:`QCRun`
chain of custody                        :class:`EvidenceRecord`, :class:`Transfer`,
                                        :class:`AuditLine`
signatures                              :class:`SignatureLine`
=====================================  =============================================

Times are UTC ISO 8601 strings (``2025-03-04T10:22:00Z``); weights are decimal text
with their unit exactly as recorded (``"12.50 g"``).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from gcms._arrays import frozen_array

__all__ = [
    "EVIDENCE_KINDS",
    "QC_USES",
    "VERDICTS",
    "AuditLine",
    "Chromatogram",
    "ComponentFinding",
    "Conclusion",
    "Criterion",
    "EvidenceRecord",
    "InstrumentStatus",
    "ItemReceived",
    "Laboratory",
    "LibraryHit",
    "PeakLabel",
    "Person",
    "QCRun",
    "QuantitationRow",
    "ReportModel",
    "SignatureLine",
    "SpectrumTrace",
    "Transfer",
    "evidence_of",
]

Verdict = Literal["identified", "inconclusive", "not identified"]
#: The three verdicts of the identification step, as the batch writes them.
VERDICTS: tuple[str, ...] = ("identified", "inconclusive", "not identified")

#: Outcome of a criterion or a QC check.
Outcome = Literal["pass", "fail", "not evaluated"]
OUTCOMES: tuple[str, ...] = ("pass", "fail", "not evaluated")


def _plain(value: Any) -> Any:
    """JSON form of a field value (dataclasses, tuples, arrays, non-finite floats)."""
    if dataclasses.is_dataclass(value):
        return value.to_dict()
    if isinstance(value, np.ndarray):
        return [_plain(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


class _Plain:
    """``to_dict()`` over the dataclass fields (shared by every record below)."""

    __slots__ = ()

    def to_dict(self) -> dict[str, Any]:
        """JSON form (tuples and arrays as lists, NaN as null)."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


@dataclass(frozen=True, slots=True)
class Laboratory(_Plain):
    """The laboratory issuing the report (ISO/IEC 17025 §7.8.2.1 b, c).

    ``accreditation`` is the text as the accreditation body words it (body, number,
    standard); ``logo`` a path to a PNG or JPEG.
    """

    name: str
    address: tuple[str, ...] = ()
    accreditation: str | None = None
    location: str | None = None
    contact: str | None = None
    logo: str | None = None
    #: the laboratory in other languages: ``(language, name, address lines)``, then
    #: optionally the accreditation and the place of testing (None: as in the main text)
    localized: tuple[tuple, ...] = ()

    def _localized(self, language: str) -> tuple:
        for entry in self.localized:
            if entry[0] == language:
                return (*entry, None, None)[:5]
        return (language, None, (), None, None)

    def name_in(self, language: str) -> tuple[str, tuple[str, ...]]:
        """Name and address in ``language`` where the profile gives them, else as is."""
        _, name, address, _, _ = self._localized(language)
        return name or self.name, tuple(address) or self.address

    def accreditation_in(self, language: str) -> str | None:
        """The accreditation statement in ``language`` where given, else as is."""
        return self._localized(language)[3] or self.accreditation

    def location_in(self, language: str) -> str | None:
        """The place of testing in ``language`` where given, else as is."""
        return self._localized(language)[4] or self.location


@dataclass(frozen=True, slots=True)
class Person(_Plain):
    """Someone named in the report: analyst, technical reviewer, authoriser."""

    name: str
    user: str | None = None
    title: str | None = None


@dataclass(frozen=True, slots=True)
class ItemReceived(_Plain):
    """The item as received: what it is, how it was sealed and packed, what it weighed."""

    description: str | None = None
    seal_numbers: tuple[str, ...] = ()
    packaging: str | None = None
    condition: str | None = None
    gross_weight: str | None = None
    net_weight: str | None = None
    item_count: int | None = None
    received_from: str | None = None
    received_by: str | None = None
    received_at: str | None = None
    submitting_agency: str | None = None
    agency_reference: str | None = None


@dataclass(frozen=True, slots=True)
class InstrumentStatus(_Plain):
    """Instrument, method and the QA status that held when the exhibit was run.

    ``qa_status`` is ``"pass"``, ``"fail"`` or ``"not evaluated"``; ``qa_summary``
    says what was checked (tune file and date, check standard) in the lab's words.
    """

    instrument_id: str | None = None
    model: str | None = None
    serial: str | None = None
    column: str | None = None
    ionization: str | None = None
    method: str | None = None
    method_sha256: str | None = None
    tune_file: str | None = None
    qa_status: str = "not evaluated"
    qa_summary: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Criterion(_Plain):
    """One identification criterion: measured value, limit, result (pass/fail).

    ``name`` is the identification step's key (``retention_time``, ``ion_ratios``, ...);
    each renderer labels it in its language. ``value`` and ``limit`` are written with
    their unit in language-neutral notation (``+0.185 s``, ``± 2 s``, ``≥ 800``);
    ``unit`` is the unit as recorded, ``note`` the step's own sentence (as recorded,
    e.g. "ΔRT +0.19 s (+0.10 %) against the standard in 03-standard.cdf ...").
    ``decisive`` is False for supporting evidence the verdict does not count (a retention
    index where the reference standard's retention time decided); None when not recorded.
    ``sentence`` names the wording (a key of the translation files) that states what was
    compared, in any language, filled with ``sentence_values`` (language-neutral
    ``(placeholder, text)`` pairs: numbers with units, file names, m/z); None where the
    step's own ``note`` is all there is (shown as recorded).
    """

    name: str
    value: str
    limit: str
    result: str
    note: str | None = None
    unit: str = ""
    decisive: bool | None = None
    sentence: str | None = None
    sentence_values: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.result not in OUTCOMES:
            raise ValueError(f"criterion {self.name}: result {self.result!r} is not one of "
                             f"{', '.join(OUTCOMES)}")
        object.__setattr__(self, "sentence_values",
                           tuple((str(k), str(v)) for k, v in self.sentence_values))

    @property
    def values(self) -> dict[str, str]:
        """``sentence_values`` as a dict, to fill the sentence's placeholders."""
        return dict(self.sentence_values)


@dataclass(frozen=True, slots=True)
class LibraryHit(_Plain):
    """A library hit of a component (NIST conventions: MF and RMF on 0-999)."""

    rank: int
    name: str
    match_factor: float | None = None
    reverse_match_factor: float | None = None
    probability: float | None = None
    delta_ri: float | None = None
    cas: str | None = None
    library: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class SpectrumTrace(_Plain):
    """A spectrum to draw: label (where it comes from), m/z and intensity arrays."""

    label: str
    mz: np.ndarray
    intensity: np.ndarray

    def __post_init__(self) -> None:
        mz = frozen_array(self.mz, np.float64, name=f"spectrum {self.label}: mz")
        intensity = frozen_array(self.intensity, np.float64,
                                 name=f"spectrum {self.label}: intensity")
        if mz.shape != intensity.shape:
            raise ValueError(f"spectrum {self.label}: {mz.size} m/z values but "
                             f"{intensity.size} intensities")
        object.__setattr__(self, "mz", mz)
        object.__setattr__(self, "intensity", intensity)

    def __reduce__(self):
        return (SpectrumTrace, (self.label, np.array(self.mz), np.array(self.intensity)))


@dataclass(frozen=True, slots=True)
class PeakLabel(_Plain):
    """A label on a chromatogram peak: retention time (s) and text."""

    rt_s: float
    text: str
    identified: bool = False


@dataclass(frozen=True, slots=True, eq=False)
class Chromatogram(_Plain):
    """A chromatogram to draw: times (s), signal, labelled peaks, what it is."""

    label: str
    times_s: np.ndarray
    intensity: np.ndarray
    peaks: tuple[PeakLabel, ...] = ()
    signal: str = "TIC"

    def __post_init__(self) -> None:
        times = frozen_array(self.times_s, np.float64, name=f"chromatogram {self.label}: times")
        values = frozen_array(self.intensity, np.float64,
                              name=f"chromatogram {self.label}: intensity")
        if times.shape != values.shape:
            raise ValueError(f"chromatogram {self.label}: {times.size} times but "
                             f"{values.size} intensities")
        object.__setattr__(self, "times_s", times)
        object.__setattr__(self, "intensity", values)
        object.__setattr__(self, "peaks", tuple(self.peaks))

    def __reduce__(self):
        return (Chromatogram, (self.label, np.array(self.times_s), np.array(self.intensity),
                               self.peaks, self.signal))


#: What an identification can rest on (:attr:`ComponentFinding.evidence`), after SWGDRUG
#: Recommendations (8.1, 2022), Part IIIB: the mass spectrum (category A technique) against
#: the library entry and/or a reference standard, and the gas-chromatographic retention
#: (category B) as a retention time against a reference standard injected in the same
#: sequence and/or a retention index (from the sequence's alkane ladder) against the
#: library's. A hyphenated technique counts as two only where the results of each are used.
EVIDENCE_KINDS: tuple[str, ...] = ("library spectrum", "standard spectrum",
                                   "standard retention time", "ladder retention index")
#: The criteria of the identification step that use each kind of evidence.
_EVIDENCE_CRITERIA = {"match_factor": "library spectrum",
                      "reverse_match_factor": "library spectrum",
                      "diagnostic_ions": "library spectrum",
                      "ion_ratios": "standard spectrum",
                      "retention_time": "standard retention time",
                      "retention_index": "ladder retention index"}


def evidence_of(criteria: tuple[Criterion, ...] | list[Criterion], *,
                reference_spectrum: bool = False) -> tuple[str, ...]:
    """The kinds of evidence (:data:`EVIDENCE_KINDS`) the criteria actually evaluated.

    A criterion that was not evaluated (no ladder, no standard in the sequence) uses
    nothing; a standard's spectrum drawn beside the component counts as compared.
    """
    used = {_EVIDENCE_CRITERIA[c.name] for c in criteria
            if c.name in _EVIDENCE_CRITERIA and c.result != "not evaluated"}
    if reference_spectrum:
        used.add("standard spectrum")
    return tuple(k for k in EVIDENCE_KINDS if k in used)


@dataclass(frozen=True, slots=True, eq=False)
class ComponentFinding(_Plain):
    """One component of the exhibit's run(s) and the decision about it.

    ``substance`` is what the component is reported as: the substance identified, or
    the candidate of an inconclusive verdict; None when it is not identified (its best
    library hit stays in ``hits``, shown only as such).
    ``spectrum`` is the component's (deconvoluted) spectrum, ``library_spectrum`` the
    library entry of the top hit, ``reference_spectrum`` the same-sequence reference
    standard's spectrum (``reference_run`` names that run). ``delta_ri`` is measured
    minus library RI; ``delta_rt_s`` measured minus reference-standard RT.
    ``evidence`` lists the kinds of evidence (:data:`EVIDENCE_KINDS`) the verdict used;
    ``retention_source`` is the retention evidence that decided (``"standard"``,
    ``"index"``, None: none); ``ladder_run`` the alkane ladder run of its retention index.
    """

    sample_id: str
    substance: str | None
    verdict: str
    rt_s: float | None = None
    retention_index: float | None = None
    delta_ri: float | None = None
    delta_rt_s: float | None = None
    criteria: tuple[Criterion, ...] = ()
    hits: tuple[LibraryHit, ...] = ()
    spectrum: SpectrumTrace | None = None
    library_spectrum: SpectrumTrace | None = None
    reference_spectrum: SpectrumTrace | None = None
    reference_run: str | None = None
    notes: tuple[str, ...] = ()
    evidence: tuple[str, ...] = ()
    retention_source: str | None = None
    ladder_run: str | None = None

    def __post_init__(self) -> None:
        if self.verdict == "not identified" and self.substance is not None:
            raise ValueError(f"component of {self.sample_id}: a component that is not "
                             f"identified has no substance (its best library hit, "
                             f"{self.substance!r}, belongs in hits)")
        if self.verdict not in VERDICTS:
            raise ValueError(f"component of {self.sample_id}: verdict {self.verdict!r} is "
                             f"not one of {', '.join(VERDICTS)}")
        for name in ("criteria", "hits", "notes", "evidence"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = [e for e in self.evidence if e not in EVIDENCE_KINDS]
        if unknown:
            raise ValueError(f"component of {self.sample_id}: evidence {unknown} not among "
                             f"{', '.join(EVIDENCE_KINDS)}")

    @property
    def top_hit(self) -> LibraryHit | None:
        """The best library hit, if any."""
        return self.hits[0] if self.hits else None

    @property
    def evidence_used(self) -> tuple[str, ...]:
        """:attr:`evidence` as recorded, else as the criteria show it (:func:`evidence_of`)."""
        return self.evidence or evidence_of(self.criteria,
                                            reference_spectrum=self.reference_spectrum
                                            is not None)


@dataclass(frozen=True, slots=True)
class QuantitationRow(_Plain):
    """An amount reported for a substance: value ± expanded uncertainty (coverage k).

    ``concentration`` is in the injected solution (``unit``); the amount in the exhibit
    is ``mass_mg`` (whole exhibit), ``purity_percent`` (% w/w) and ``per_unit_mg``
    (per ``per_unit``, e.g. "mg per tablet"), each with its expanded uncertainty
    (U = k·u, GUM 6.2). ``coverage_factor`` is k; ``degrees_of_freedom`` and
    ``confidence_percent`` say where it comes from when known (Student's t for the
    calibration's degrees of freedom at that level of confidence); both None when the
    method set k itself. The method is named by ``method_name``, ``method_version`` and
    ``method_sha256``; its calibration by ``calibration_model`` and ``weighting``, the
    calibrated range ``range_low``-``range_high`` and the limit of quantitation ``loq``
    (in ``unit``), and ``internal_standard`` (None: external calibration or not recorded).
    """

    sample_id: str
    substance: str
    status: str
    reportable: bool
    concentration: float | None = None
    expanded_uncertainty: float | None = None
    coverage_factor: float | None = None
    unit: str = ""
    purity_percent: float | None = None
    purity_expanded_uncertainty: float | None = None
    mass_mg: float | None = None
    mass_expanded_uncertainty_mg: float | None = None
    basis: str | None = None
    message: str | None = None
    per_unit_mg: float | None = None
    per_unit_expanded_uncertainty_mg: float | None = None
    per_unit: str | None = None
    degrees_of_freedom: int | None = None
    confidence_percent: float | None = None
    method_name: str | None = None
    method_version: str | None = None
    method_sha256: str | None = None
    calibration_model: str | None = None
    weighting: str | None = None
    range_low: float | None = None
    range_high: float | None = None
    loq: float | None = None
    internal_standard: str | None = None


#: What the exhibit's verdicts use a QC run for (:attr:`QCRun.uses`).
QC_USES: tuple[str, ...] = ("retention index", "reference standard", "blank before",
                            "calibration", "check standard")


@dataclass(frozen=True, slots=True)
class QCRun(_Plain):
    """A quality-control run of the sequence (blank, standard, ladder, check).

    ``uses`` says what the exhibit's verdicts rest on this run for (values of
    :data:`QC_USES`: the alkane ladder of its retention indices, a reference standard
    of its retention-time, ion-ratio and spectrum comparisons, the blank run before
    it, a calibrator or the check standard of an amount it reports); empty for the
    sequence's other runs, shown apart. ``summary`` says what was
    found in English (for a LIMS); ``found`` (substances identified in the run),
    ``missing`` (a standard's expected substances not found) and ``problem`` (why the
    run could not be processed) are the facts each renderer words in its language;
    ``recovery_percent`` and ``recovery_tolerance_percent`` a check standard's found
    amount against its nominal one.
    """

    sample_id: str
    kind: str
    outcome: str
    summary: str = ""
    file: str | None = None
    sha256: str | None = None
    acquired_at: str | None = None
    uses: tuple[str, ...] = ()
    found: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    problem: str | None = None
    recovery_percent: float | None = None
    recovery_tolerance_percent: float | None = None

    def __post_init__(self) -> None:
        for name in ("uses", "found", "missing"):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        unknown = [u for u in self.uses if u not in QC_USES]
        if unknown:
            raise ValueError(f"QC run {self.sample_id}: uses {unknown} not among "
                             f"{', '.join(QC_USES)}")


@dataclass(frozen=True, slots=True)
class EvidenceRecord(_Plain):
    """An evidence file (or ``.D`` folder) the report rests on, with its SHA-256.

    ``files`` holds ``(relative path, sha256, size_bytes)`` of every file in a folder.
    """

    label: str
    kind: str
    path: str
    sha256: str
    size_bytes: int | None = None
    files: tuple[tuple[str, str, int], ...] = ()
    acquired_at: str | None = None


@dataclass(frozen=True, slots=True)
class Transfer(_Plain):
    """A custody hand-over: when, from, to, why, and the seal's state."""

    at: str
    from_party: str
    to_party: str
    purpose: str | None = None
    seal_intact: bool | None = None


@dataclass(frozen=True, slots=True)
class AuditLine(_Plain):
    """One audit-log entry shown in the report (an excerpt, not the whole log)."""

    seq: int
    at: str
    actor: str
    action: str
    object: str


@dataclass(frozen=True, slots=True)
class SignatureLine(_Plain):
    """A signature shown in the report (21 CFR 11.50): printed name, UTC time, meaning.

    ``kind`` is ``"case store"`` (an Ed25519 signature of a result recorded in the
    store) or ``"pdf"`` (the PAdES signature of this document).
    """

    printed_name: str
    meaning: str
    signed_at: str
    kind: str = "case store"
    signer: str | None = None
    key_fingerprint: str | None = None
    covers: str | None = None


@dataclass(frozen=True, slots=True)
class Conclusion(_Plain):
    """The conclusion as facts; each renderer words it in its language.

    ``identified``: substances identified (names as in the library); ``inconclusive``:
    candidates that met some criteria but not all; ``limitations`` and ``ambiguities``
    are statements in English from the analysis (isomers not distinguished, co-elution,
    look-alike spectra) that the report shows as they are.
    """

    identified: tuple[str, ...] = ()
    inconclusive: tuple[str, ...] = ()
    limitations: tuple[str, ...] = ()
    ambiguities: tuple[str, ...] = ()
    opinion: str | None = None


@dataclass(frozen=True, slots=True, eq=False)
class ReportModel(_Plain):
    """Everything one exhibit's report states (see the module docstring).

    ``analysts`` signed the results as their author; ``processed_by`` ran the batch
    (the user named by ``gcms batch --analyst`` / ``GCMS_ACTOR``, or the case store's
    record of who recorded the analysis): never the same statement, never invented.
    ``library_sha256`` is the library's *content* hash the batch recorded (the spectra
    and entry fields, independent of the file's bytes); ``library_file_sha256`` the
    library file's SHA-256, as the case store recorded it or, with
    ``library_file_hashed_for_report``, as the file read for this report hashed.
    ``python`` and ``dependencies`` (``(package, version)`` pairs) name the software
    the report was made with (:func:`gcms.about.about`), beside ``software_version``.
    """

    report_id: str
    case_id: str
    exhibit_id: str
    issued_at: str
    laboratory: Laboratory
    item: ItemReceived = field(default_factory=ItemReceived)
    analysts: tuple[Person, ...] = ()
    reviewers: tuple[Person, ...] = ()
    processed_by: tuple[Person, ...] = ()
    analysed_from: str | None = None
    analysed_to: str | None = None
    instrument: InstrumentStatus = field(default_factory=InstrumentStatus)
    technique: str = "GC-MS (EI)"
    conclusion: Conclusion = field(default_factory=Conclusion)
    findings: tuple[ComponentFinding, ...] = ()
    chromatograms: tuple[Chromatogram, ...] = ()
    quantitation: tuple[QuantitationRow, ...] = ()
    qc_runs: tuple[QCRun, ...] = ()
    evidence: tuple[EvidenceRecord, ...] = ()
    transfers: tuple[Transfer, ...] = ()
    audit: tuple[AuditLine, ...] = ()
    signatures: tuple[SignatureLine, ...] = ()
    software: str = "gcms"
    software_version: str = ""
    library_name: str | None = None
    library_sha256: str | None = None
    library_file_sha256: str | None = None
    library_file_hashed_for_report: bool = False
    criteria_profile: str | None = None
    criteria_sha256: str | None = None
    chain_head: tuple[int, str] | None = None
    source: str | None = None
    deviations: tuple[str, ...] = ()
    withheld: tuple[str, ...] = ()
    python: str | None = None
    dependencies: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        for name in ("report_id", "case_id", "exhibit_id", "issued_at"):
            value = getattr(self, name)
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f"report: {name} must be non-empty text, got {value!r}")
        for f in dataclasses.fields(self):
            if isinstance(getattr(self, f.name), list):
                object.__setattr__(self, f.name, tuple(getattr(self, f.name)))

    def replace(self, **changes: Any) -> ReportModel:
        """A copy with some fields changed."""
        return dataclasses.replace(self, **changes)

    @property
    def identified_findings(self) -> tuple[ComponentFinding, ...]:
        """The components whose verdict is ``identified``, in retention order."""
        return tuple(f for f in self.findings if f.verdict == "identified")

    def _signers(self, people: tuple[Person, ...], meaning: str) -> tuple[Person, ...]:
        named = list(people)
        known = {p.user or p.name for p in named} | {p.name for p in named}
        for s in self.signatures:
            if s.meaning == meaning and (s.signer or s.printed_name) not in known \
                    and s.printed_name not in known:
                named.append(Person(s.printed_name, s.signer))
                known |= {s.signer or s.printed_name, s.printed_name}
        return tuple(named)

    @property
    def named_analysts(self) -> tuple[Person, ...]:
        """The analysts, with every signer of this report whose meaning is "authored"."""
        return self._signers(self.analysts, "authored")

    @property
    def named_reviewers(self) -> tuple[Person, ...]:
        """The technical reviewers, with every signer whose meaning is "reviewed"."""
        return self._signers(self.reviewers, "reviewed")

    @property
    def named_approvers(self) -> tuple[Person, ...]:
        """Who approved (authorised) the report: the signers whose meaning is "approved"."""
        return self._signers((), "approved")
