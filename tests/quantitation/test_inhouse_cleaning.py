"""In-house entries fit for a library: cleaned spectra, and standards that are one compound."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from gcms_cli.main import cli

from gcms import Spectrum
from gcms.deconvolution import deconvolve
from gcms.errors import LibraryError
from gcms.io import andi_ms
from gcms.library import Library
from gcms.library.scores import identity_match_factor
from gcms.quantitation.inhouse import MIN_RELATIVE_PERCENT, entry_from_run
from gcms.simulate import SimulationSettings, amount_for_snr, simulate

A = Spectrum(mz=np.array([56.0, 58.0, 65.0, 91.0, 134.0]),
             intensity=np.array([40.0, 999.0, 50.0, 120.0, 30.0]), name="A")
B = Spectrum(mz=np.array([77.0, 105.0, 122.0, 150.0, 182.0]),
             intensity=np.array([300.0, 999.0, 400.0, 200.0, 250.0]), name="B")
RT = 160.0


def run_of(offset_s=None, *, seed=3):
    """A at S/N 500; with ``offset_s`` B co-elutes that many seconds later."""
    st = SimulationSettings(start_s=100.0, duration_s=120.0, scan_rate_hz=4.0, mz_min=40,
                            mz_max=200, background=150.0, bleed=0.0, threshold=0.0,
                            spikes_per_scan=0.0, seed=seed)
    items = [(A, RT, amount_for_snr(A, 500.0, settings=st, rt_s=RT))]
    if offset_s is not None:
        t = RT + offset_s
        items.append((B, t, amount_for_snr(B, 300.0, settings=st, rt_s=t)))
    return simulate(items, settings=st).run


def _by_hand(run, scan, background_scans):
    """A scan minus the mean of the background scans, from the run's CSR arrays."""
    def peaks(i):
        lo, hi = run.scan_offsets[i], run.scan_offsets[i + 1]
        return dict(zip(np.rint(run.mz[lo:hi]).astype(int).tolist(),
                        run.intensity[lo:hi].astype(float).tolist(), strict=True))

    here = peaks(scan)
    around = [peaks(i) for i in background_scans]
    values = {m: a - sum(p.get(m, 0.0) for p in around) / len(around) for m, a in here.items()}
    return values


def test_a_pure_standard_is_cleaned_and_its_self_match_recorded():
    run = run_of()
    entry = entry_from_run(run, RT, name="A")
    record = entry.provenance
    cleaning, check = record["cleaning"], record["self_match"]
    assert cleaning["background"].startswith("subtracted")
    assert cleaning["min_relative_percent"] == MIN_RELATIVE_PERCENT == 0.5
    # independent: the deconvoluted spectrum's peaks under 0.5 % of its base, counted here
    fitted = min(deconvolve(run).components, key=lambda c: abs(c.rt_s - RT)).spectrum
    small = fitted.intensity < 0.005 * fitted.intensity.max()
    assert cleaning["n_ions_fitted"] == len(fitted)
    assert cleaning["n_ions_dropped"] == int(small.sum())
    assert len(entry.spectrum) == len(fitted) - int(small.sum()) == record["n_ions"]
    assert entry.spectrum.intensity.min() >= 0.005 * entry.spectrum.intensity.max()
    assert set(entry.spectrum.mz.tolist()) >= {56.0, 58.0, 65.0, 91.0, 134.0}
    assert check["lowest"] >= check["threshold"] == 800
    scans = check["scans"]
    assert scans["upslope"] < scans["apex"] < scans["downslope"]
    # independent: the up/apex MF from spectra built by hand from the scans' peaks (the
    # 3-sigma noise floor aside, the ions of A dominate both)
    up = _by_hand(run, scans["upslope"], check["background_scans"])
    top = _by_hand(run, scans["apex"], check["background_scans"])
    strong = (56, 58, 65, 91, 134)
    mf = identity_match_factor(
        Spectrum(mz=np.array(strong, float), intensity=np.array([up[m] for m in strong])),
        Spectrum(mz=np.array(strong, float), intensity=np.array([top[m] for m in strong])))
    assert abs(mf - check["match_factors"]["upslope/apex"]) <= 20


@pytest.mark.parametrize("offset_s", [0.8, 1.5, 3.0])
def test_a_standard_with_a_co_eluting_compound_is_refused(offset_s):
    run = run_of(offset_s)
    with pytest.raises(LibraryError, match="is not one compound") as info:
        entry_from_run(run, RT, name="A")
    assert "upslope/downslope" in str(info.value) and "below 800" in str(info.value)
    # an analyst who accepts it knowingly sets a lower limit, which the entry records
    entry = entry_from_run(run, RT, name="A", min_self_match=100)
    assert entry.provenance["self_match"]["threshold"] == 100
    assert entry.provenance["self_match"]["lowest"] < 800


def test_library_add_command_refuses_and_states_the_cleaning(tmp_path):
    pure, mixed = tmp_path / "pure.cdf", tmp_path / "mixed.cdf"
    andi_ms.write(run_of(), pure)
    andi_ms.write(run_of(1.5), mixed)
    library = tmp_path / "lib.h5"
    refused = CliRunner().invoke(cli, ["library", "add", str(library), "--from-run",
                                       str(mixed), "--rt", str(RT), "--name", "A"])
    assert refused.exit_code == 2 and "is not one compound" in refused.output
    assert not library.exists()
    added = CliRunner().invoke(cli, ["library", "add", str(library), "--from-run", str(pure),
                                     "--rt", str(RT), "--name", "A", "--min-relative", "2"])
    assert added.exit_code == 0, added.output
    assert "background subtracted" in added.output and "under 2 %" in added.output
    assert "one compound across the peak: MF upslope/apex" in added.output
    entry = Library.open(library).entry(0)
    assert entry.provenance["cleaning"]["min_relative_percent"] == 2.0
    spectrum = Library.open(library).spectrum(0)
    assert spectrum.intensity.min() >= 0.02 * spectrum.intensity.max() - 1e-6
