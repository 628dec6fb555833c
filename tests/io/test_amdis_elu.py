"""AMDIS .ELU deconvolution results: the real 1,154-component file and malformed blocks."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest
from conftest import shared_file

from gcms.errors import FormatError
from gcms.io import amdis_elu

GOOD = """NAME: |SC36|CN7|MP2-MODN:44(%100.0)-28|AM147456|PC2.9|SN170|WD>3|TA1.5|TR136.2|\
FR32-35|RT0.5435|MN0.13|RA0.0821|IS528927|XN840997|MO3: 44 45 22|EW1-19|FG0.755|TN1.020|OR2|NT0
RE
26 36879 62012 150400
NUM PEAKS: 5
(22,4 )(44,999 )(45,12 )(46,4 )(17,2 N0.4)
"""


@pytest.fixture(scope="module")
def peaks1():
    return amdis_elu.read(shared_file("amdis-nist-formats", "amdis_elu", "Peaks1.ELU"))


@pytest.mark.shared
def test_every_component_of_the_real_file_is_read(peaks1):
    assert len(peaks1.components) == 1154 and peaks1.skipped == []
    assert [c.component for c in peaks1.components] == sorted(c.component
                                                             for c in peaks1.components)
    # Every profile spans exactly FR's scans; every apex scan lies in it.
    assert all(c.profile.size == c.last_scan - c.first_scan + 1 for c in peaks1.components)
    assert all(c.first_scan <= c.scan <= c.last_scan for c in peaks1.components)
    # MODN's ion is the first of MO's model ions; purity is a fraction.
    assert all(c.model_mz == c.model_ions[0] for c in peaks1.components)
    assert min(c.purity for c in peaks1.components) == pytest.approx(0.149)
    # The flags: as many as grep counts in the file (N 26,051, B 6,487, L 272).
    flags = np.concatenate([c.flag for c in peaks1.components])
    assert [(flags == f).sum() for f in "NBL"] == [26051, 6487, 272]
    assert sum(c.width_is_lower_bound for c in peaks1.components) == 119


@pytest.mark.shared
def test_first_component_fields(peaks1):
    c = peaks1.components[0]
    assert (c.scan, c.component, c.model_peak, c.model_mz, c.model_tail) == (17, 1, 1, 28, "")
    assert c.purity == pytest.approx(0.477) and c.amount == 9415 and c.percent_total == 35
    assert c.snr == 48 and c.width_scans == 13 and c.width_is_lower_bound
    assert c.rt_seconds == pytest.approx(0.2866 * 60) and c.model_ions == (28, 32)
    assert (c.first_scan, c.last_scan) == (14, 23)
    assert c.profile.tolist()[:3] == [3301, 5697, 5788]
    # Sorted by m/z, the flags follow their peaks.
    assert c.spectrum.mz.tolist() == [16, 18, 28, 29, 32, 40]
    assert c.spectrum.intensity.tolist() == [15, 28, 999, 17, 271, 12]
    assert c.flag.tolist() == ["N", "N", "", "", "", "N"]
    assert c.flag_value[0] == 0.2 and math.isnan(c.flag_value[2])
    assert c.fields["TN"] == "1.289" and c.fields["EW"] == "0-4"


def test_generated_block_and_read_only(tmp_path):
    path = tmp_path / "one.ELU"
    path.write_text(GOOD)
    (c,) = amdis_elu.read(path).components
    assert c.model_tail == "-28" and c.width_scans == 3 and c.width_is_lower_bound
    assert c.spectrum.mz.tolist() == [17, 22, 44, 45, 46] and c.flag.tolist()[0] == "N"
    assert amdis_elu.sniff(path, path.read_bytes()[:100])
    with pytest.raises(ValueError):
        c.profile[0] = 1
    assert c.to_dict()["flag_value"][1] is None


@pytest.mark.parametrize(("change", "reason"), [
    (("NUM PEAKS: 5", "NUM PEAKS: 6"), "NUM PEAKS says 6 but 5 pairs follow"),
    (("|SN170", "|SNabc"), "SN is not a number"),
    (("|MO3: 44 45 22", "|MO4: 44 45 22"), "MO says 4 model ions but lists 3"),
    (("|FR32-35", ""), "header lacks FR"),
    (("(45,12 )", "(45,x )"), "peak (45,x ) is not"),
    (("MP2-MODN:44(%100.0)", "MP2-MODN:44(%140.0)"), "purity 140.0% is outside"),
    (("RE\n", ""), "no RE line"),
])
def test_malformed_block_is_skipped_with_file_entry_and_reason(tmp_path, change, reason):
    path = tmp_path / "two.ELU"
    path.write_text(GOOD.replace("CN7", "CN8") + "\n" + GOOD.replace(*change))
    report = amdis_elu.read(path)
    assert [c.component for c in report.components] == [8]
    (skipped,) = report.skipped
    assert str(skipped).startswith(f"{path}: entry 2 (CN7): ") and reason in skipped.reason


def test_not_an_elu_is_refused(tmp_path):
    path = tmp_path / "x.ELU"
    path.write_text("hello\n")
    with pytest.raises(FormatError, match="x.ELU: no 'NAME:' line"):
        amdis_elu.read(path)
    path.write_text(GOOD.replace("NUM PEAKS: 5", "NUM PEAKS: 1"))
    with pytest.raises(FormatError, match="x.ELU: no component could be read"):
        amdis_elu.read(path)


@pytest.mark.shared
def test_truncations_garbage_and_untouched_evidence(tmp_path):
    """The reader contract's checks (tests/io/contract.py), for a reader outside the registry."""
    source = shared_file("amdis-nist-formats", "amdis_elu", "Peaks1.ELU")
    data = source.read_bytes()
    before = source.stat().st_mtime_ns
    assert amdis_elu.read(source).sha256 == hashlib.sha256(data).hexdigest()
    assert source.stat().st_mtime_ns == before
    cut = tmp_path / "cut.ELU"
    for fraction in (0.0, 0.01, 0.1, 0.5, 0.9, 0.999):
        cut.write_bytes(data[: int(len(data) * fraction)])
        try:
            report = amdis_elu.read(cut)
        except FormatError as error:
            assert str(cut) in str(error)
            continue
        # A cut in the middle of a block loses that block only, and says so.
        assert len(report.components) + len(report.skipped) <= 1154
        assert all(not c.spectrum.mz.flags.writeable for c in report.components)
    garbage = tmp_path / "garbage.ELU"
    garbage.write_bytes(b"\x00\x01garbage" * 100)
    with pytest.raises(FormatError, match="garbage.ELU"):
        amdis_elu.read(garbage)
