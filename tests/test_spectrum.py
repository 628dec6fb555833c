import pickle

import numpy as np
import pytest

from gcms import Spectrum


def test_peaks_are_sorted_without_touching_the_callers_arrays():
    mz = np.array([91.0, 58.0, 134.0])
    spectrum = Spectrum(mz, [30.0, 999.0, 5.0], name="methamphetamine")
    np.testing.assert_array_equal(spectrum.mz, [58.0, 91.0, 134.0])
    np.testing.assert_array_equal(spectrum.intensity, [999.0, 30.0, 5.0])
    np.testing.assert_array_equal(mz, [91.0, 58.0, 134.0])
    assert not spectrum.mz.flags.writeable
    assert spectrum.base_peak_mz == 58.0


@pytest.mark.parametrize("mz, intensity", [([1.0, 2.0], [1.0]), ([1.0, np.nan], [1.0, 2.0]),
                                           ([[1.0]], [[1.0]])])
def test_bad_peaks_are_refused(mz, intensity):
    with pytest.raises(ValueError):
        Spectrum(mz, intensity)


def test_nominal_keeps_the_largest_peak_of_each_bin():
    spectrum = Spectrum([57.05, 57.3, 58.1, 422.485], [10.0, 50.0, 5.0, 1.0]).nominal()
    np.testing.assert_array_equal(spectrum.mz, [57.0, 58.0, 422.0])
    np.testing.assert_array_equal(spectrum.intensity, [50.0, 5.0, 1.0])


def test_normalized_scales_the_base_peak():
    spectrum = Spectrum([1.0, 2.0], [2.0, 4.0]).normalized()
    np.testing.assert_allclose(spectrum.intensity, [499.5, 999.0])
    with pytest.raises(ValueError):
        Spectrum([1.0], [0.0]).normalized()


def test_matchms_round_trip_keeps_peaks_and_metadata():
    spectrum = Spectrum([44.0, 91.0], [999.0, 120.0], name="amphetamine", cas="300-62-9",
                        inchikey="KWTSXDURSIMDCE-UHFFFAOYSA-N", retention_index=1125.0,
                        extra={"instrument": "sector"})
    converted = spectrum.to_matchms()
    assert converted.get("compound_name") == "amphetamine"
    np.testing.assert_array_equal(converted.peaks.mz, [44.0, 91.0])
    back = Spectrum.from_matchms(converted)
    assert (back.name, back.cas, back.inchikey, back.retention_index) == (
        "amphetamine", "300-62-9", "KWTSXDURSIMDCE-UHFFFAOYSA-N", 1125.0)
    assert back.extra["instrument"] == "sector"
    np.testing.assert_array_equal(back.intensity, spectrum.intensity)


def test_dict_and_pickle_round_trips():
    spectrum = Spectrum([44.0], [1.0], name="x", synonyms=("y",), extra={"a": "b"})
    again = Spectrum.from_dict(spectrum.to_dict())
    assert again.to_dict() == spectrum.to_dict()
    copy = pickle.loads(pickle.dumps(spectrum))
    assert copy.to_dict() == spectrum.to_dict() and not copy.mz.flags.writeable
