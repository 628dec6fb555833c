"""Report models built by hand for the renderer tests (no batch, no store needed)."""

from __future__ import annotations

import hashlib

import numpy as np

from gcms.report.model import (
    AuditLine,
    Chromatogram,
    ComponentFinding,
    Conclusion,
    Criterion,
    EvidenceRecord,
    InstrumentStatus,
    ItemReceived,
    Laboratory,
    LibraryHit,
    PeakLabel,
    Person,
    QCRun,
    QuantitationRow,
    ReportModel,
    SignatureLine,
    SpectrumTrace,
    Transfer,
)

# Nominal EI spectra (m/z: relative intensity) close to the published ones.
SPECTRA = {
    "Amphetamine": {44: 999, 91: 320, 65: 90, 42: 60, 120: 40, 134: 15, 39: 40, 51: 30},
    "Caffeine": {194: 999, 109: 620, 67: 420, 82: 380, 55: 300, 195: 110, 137: 60, 42: 200},
    "Theophylline": {180: 999, 95: 430, 68: 400, 53: 220, 123: 120, 181: 95, 41: 180},
}
RT_S = {"Amphetamine": 352.4, "Caffeine": 612.9, "Theophylline": 655.1}
RI = {"Amphetamine": 1128.0, "Caffeine": 1833.0, "Theophylline": 1905.0}
#: Student's t(0.975, 4): the coverage factor of a calibration with 4 degrees of freedom.
K_T4 = 2.7764451051977987


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def trace(label: str, name: str, jitter: float = 0.0) -> SpectrumTrace:
    peaks = SPECTRA[name]
    mz = np.array(sorted(peaks), dtype=float)
    rel = np.array([peaks[int(m)] for m in mz], dtype=float)
    rel = rel * (1.0 + jitter * np.sin(mz))
    return SpectrumTrace(label, mz, rel)


def finding(name: str, *, verdict: str = "identified", sample: str = "SEQ-014") -> ComponentFinding:
    mf = {"Amphetamine": 912, "Caffeine": 955, "Theophylline": 901}[name]
    return ComponentFinding(
        sample_id=sample, substance=name, verdict=verdict, rt_s=RT_S[name],
        retention_index=RI[name] + 3.0, delta_ri=3.0, delta_rt_s=0.6,
        criteria=(
            Criterion("match_factor", str(mf), "≥ 800", "pass",
                      f"identity MF {mf} against {name!r}"),
            Criterion("reverse_match_factor", str(mf + 20), "≥ 800", "pass"),
            Criterion("retention_time", "+0.6 s", "± 6 s", "pass" if verdict == "identified"
                      else "fail", "ΔRT +0.60 s (+0.17 %) against the standard in 005.D "
                      "(sequence #5, RT 351.80 s); window ±6.00 s", "s", True),
            Criterion("retention_index", "+3.0 i.u.", "± 20 i.u.", "pass",
                      f"RI {RI[name] + 3:.1f} against library RI {RI[name]:g}: ΔRI +3.0",
                      "i.u.", False),
        ),
        hits=(LibraryHit(1, name, mf, mf + 20, 88.5, 3.0, library="demo"),
              LibraryHit(2, "Phentermine" if name == "Amphetamine" else "Paraxanthine",
                         701, 760, 6.1, 40.0, library="demo")),
        spectrum=trace(f"{sample} at {RT_S[name] / 60:.2f} min", name, 0.05),
        library_spectrum=trace(f"library: {name}", name),
        reference_spectrum=trace(f"reference standard SEQ-005: {name}", name, 0.02),
        reference_run="SEQ-005",
    )


def chromatogram(names=("Amphetamine", "Caffeine", "Theophylline")) -> Chromatogram:
    t = np.arange(120.0, 900.0, 0.5)
    signal = 2000.0 + 50.0 * np.sin(t / 7.0)
    for i, name in enumerate(names):
        signal = signal + (3.0e5 / (i + 1)) * np.exp(-0.5 * ((t - RT_S[name]) / 1.5) ** 2)
    signal = signal + 4.0e4 * np.exp(-0.5 * ((t - 500.0) / 1.5) ** 2)
    peaks = tuple(PeakLabel(RT_S[n], n, True) for n in names) + (PeakLabel(500.0, "unknown"),)
    return Chromatogram("SEQ-014 (exhibit FL21-1010)", t, signal, peaks)


def full_model(**changes) -> ReportModel:
    names = ("Amphetamine", "Caffeine", "Theophylline")
    files = tuple((f"AcqData/file{i}.bin", digest(f"file{i}"), 1000 + i) for i in range(3))
    model = ReportModel(
        report_id="RPT-2025-0142-E1", case_id="2025-0142", exhibit_id="FL21-1010",
        issued_at="2025-03-10T09:30:00Z",
        laboratory=Laboratory(
            name="Example Forensic Chemistry Laboratory",
            address=("1 Science Road", "Example City"),
            accreditation="ISO/IEC 17025:2017, accreditation no. T-0001",
            location="Drug chemistry, room 2.14",
            localized=(("ar", "مختبر الكيمياء الجنائية النموذجي", ("١ طريق العلوم", "المدينة")),)),
        item=ItemReceived(description="47 beige tablets stamped with two interlocking half-moons",
                          seal_numbers=("A123", "A124"), packaging="sealed evidence bag",
                          condition="seal intact", gross_weight="14.82 g", net_weight="12.50 g",
                          item_count=47, received_from="Officer B (Customs)", received_by="jdoe",
                          received_at="2025-03-01T08:15:00Z", submitting_agency="Customs",
                          agency_reference="CUS-77"),
        analysts=(Person("Dr J. Doe", "jdoe"),), reviewers=(Person("A. Smith", "asmith"),),
        processed_by=(Person("labtech7", "labtech7"),),
        analysed_from="2025-03-04T10:22:00Z", analysed_to="2025-03-04T14:05:00Z",
        instrument=InstrumentStatus(instrument_id="GCMS-01", model="8890 GC / 5977B MSD",
                                    serial="US0000M000", column="HP-5ms UI 30 m x 0.25 mm",
                                    ionization="EI 70 eV", method="DRUGS.M", tune_file="atune.u",
                                    qa_status="pass",
                                    qa_summary=("PFTBA autotune 2025-03-04 07:58 UTC: passed",)),
        conclusion=Conclusion(identified=names,
                              limitations=("'not identified' does not mean absent: a substance "
                                           "below the reporting level (model-ion S/N 10) is not "
                                           "reported",),
                              ambiguities=("Amphetamine and phentermine give similar spectra; "
                                           "retention index separates them.",)),
        findings=tuple(finding(n) for n in names) + (ComponentFinding(
            sample_id="SEQ-014", substance=None, verdict="not identified", rt_s=500.0,
            hits=(LibraryHit(1, "Hexadecanoic acid", 610, 650, 12.0, 150.0),)),),
        chromatograms=(chromatogram(),),
        quantitation=(QuantitationRow(
            "SEQ-014", "Amphetamine", "quantified", True, 41.2, 2.9, K_T4, "ug/mL",
            purity_percent=16.5, purity_expanded_uncertainty=1.2, mass_mg=2.0623,
            mass_expanded_uncertainty_mg=0.1437,
            basis="standard error of inverse prediction from the calibration regression "
                  "(k = 1)", per_unit_mg=0.04388, per_unit_expanded_uncertainty_mg=0.003057,
            per_unit="mg per tablet", degrees_of_freedom=4, confidence_percent=95.0),),
        qc_runs=(QCRun("SEQ-001", "blank", "pass", "no library substance identified",
                       "blank.D", digest("blank"), uses=("blank before",)),
                 QCRun("SEQ-005", "standard", "pass", "found: Amphetamine, Caffeine, Theophylline",
                       "std.D", digest("std"), uses=("reference standard",),
                       found=("Amphetamine", "Caffeine", "Theophylline")),
                 QCRun("SEQ-020", "blank", "pass", "no library substance identified",
                       "blank-after.D", digest("blank-after"))),
        evidence=(EvidenceRecord("SEQ-014", "sample", "/lab/seq/014.D", digest("014"), 3003,
                                 files),
                  EvidenceRecord("SEQ-005", "standard", "/lab/seq/005.D", digest("005"), 10),
                  EvidenceRecord("SEQ-001", "blank", "/lab/seq/001.D", digest("001"), 10)),
        transfers=(Transfer("2025-03-01T08:15:00Z", "Officer B (Customs)", "jdoe", "analysis",
                            True),
                   Transfer("2025-03-04T16:00:00Z", "jdoe", "drug vault", "storage", True)),
        audit=(AuditLine(12, "2025-03-04T15:00:00Z", "jdoe", "result.record", "result RS1"),),
        signatures=(SignatureLine("Dr J. Doe", "authored", "2025-03-05T10:00:00Z",
                                  key_fingerprint=digest("key")),),
        software_version="0.1.0", library_name="demo.h5", library_sha256=digest("lib"),
        criteria_profile="swgdrug.toml", criteria_sha256=digest("crit"),
        chain_head=(42, digest("head")), source="results.json",
    )
    return model.replace(**changes) if changes else model
