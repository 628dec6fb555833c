import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gcms import FormatError, Run, RunMetadata, nominal_mass


def small_run(**changes):
    fields = dict(
        scan_times=[1.0, 2.0, 3.0, 4.0],
        scan_offsets=[0, 2, 2, 5, 6],
        mz=[50.1, 57.0, 40.0, 41.2, 422.485, 57.4],
        intensity=[1, 2, 3, 4, 5, 6],
        metadata=RunMetadata(sample_name="mix", source_path="mix.cdf"),
    )
    fields.update(changes)
    return Run(**fields)


def test_tic_is_the_sum_of_each_scan_including_empty_ones():
    run = small_run()
    np.testing.assert_array_equal(run.tic, [3.0, 0.0, 12.0, 6.0])


def test_empty_run_is_valid():
    run = Run(scan_times=[], scan_offsets=[0], mz=[], intensity=[])
    assert run.n_scans == 0 and run.rt_range_s is None and run.mz_range is None
    assert run.summary()["tic_max"] is None


def test_trailing_empty_scans_are_kept():
    run = Run(scan_times=[1.0, 2.0], scan_offsets=[0, 1, 1], mz=[50.0], intensity=[7.0])
    np.testing.assert_array_equal(run.tic, [7.0, 0.0])


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"scan_offsets": [0, 2, 2, 5]}, "scan_offsets has 4 entries for 4 scans"),
        ({"scan_offsets": [0, 2, 2, 5, 7]}, "from 0 to 6"),
        ({"scan_offsets": [0, 3, 2, 5, 6]}, "decrease"),
        ({"scan_times": [1.0, 3.0, 2.0, 4.0]}, "scan_times decrease at scan 2"),
        ({"scan_times": [1.0, np.nan, 3.0, 4.0]}, "NaN"),
        ({"intensity": [1, 2, np.nan, 4, 5, 6]}, "NaN"),
        ({"intensity": [1, 2, 3]}, "intensity has 3"),
        ({"tic": [1.0, 2.0]}, "tic has 2 values for 4 scans"),
    ],
)
def test_inconsistent_arrays_are_refused(changes, message):
    with pytest.raises(ValueError, match=message):
        small_run(**changes)


def test_arrays_are_read_only_and_callers_arrays_untouched():
    mz = np.array([50.1, 57.0, 40.0, 41.2, 422.485, 57.4])
    run = small_run(mz=mz)
    assert mz.flags.writeable
    for name in ("scan_times", "scan_offsets", "mz", "intensity", "tic"):
        assert not getattr(run, name).flags.writeable, name
    with pytest.raises(ValueError):
        run.mz[0] = 1.0


def test_dtypes_follow_the_design():
    run = small_run()
    assert run.scan_times.dtype == np.float64
    assert run.scan_offsets.dtype == np.int64
    assert run.mz.dtype == np.float64
    assert run.intensity.dtype == np.float32


def test_matrix_bins_nominal_masses_keeping_the_maximum():
    run = small_run()
    matrix = run.matrix(40, 60)
    assert matrix.shape == (4, 21) and matrix.dtype == np.float32
    # scan 0: 50.1 -> 50 ; 57.0 -> 57
    assert matrix[0, 10] == 1 and matrix[0, 17] == 2
    # scan 3: 57.4 -> 57 (x.649 boundary)
    assert matrix[3, 17] == 6
    # 422.485 is outside [40, 60] and dropped
    assert matrix.sum() == 1 + 2 + 3 + 4 + 6


def test_matrix_keeps_max_when_two_peaks_share_a_bin():
    run = Run(scan_times=[1.0], scan_offsets=[0, 2], mz=[56.8, 57.3], intensity=[10, 4])
    assert run.matrix(57, 57)[0, 0] == 10


def test_matrix_default_range_is_the_runs_nominal_range():
    run = small_run()
    assert run.nominal_mz_range == (40, 422)
    assert run.matrix().shape == (4, 383)


def test_matrix_agrees_with_a_per_scan_reference():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 30, 50)
    offsets = np.concatenate([[0], np.cumsum(counts)])
    mz = rng.uniform(30, 300, offsets[-1])
    intensity = rng.uniform(0, 1000, offsets[-1]).astype(np.float32)
    run = Run(scan_times=np.arange(50.0), scan_offsets=offsets, mz=mz, intensity=intensity)
    expected = np.zeros((50, 301 - 30 + 1), dtype=np.float32)
    for i in range(50):
        for m, v in zip(mz[offsets[i]:offsets[i + 1]], intensity[offsets[i]:offsets[i + 1]],
                        strict=True):
            col = int(np.ceil(m - 0.649)) - 30
            if 0 <= col < expected.shape[1]:
                expected[i, col] = max(expected[i, col], v)
    np.testing.assert_array_equal(run.matrix(30, 301), expected)


def test_nominal_mass_rule():
    np.testing.assert_array_equal(
        nominal_mass([57.0, 57.64, 57.65, 422.485, 501.97, 562.64, 56.36]),
        [57, 57, 58, 422, 502, 562, 56],
    )


def test_xic_sums_the_window_per_scan():
    run = small_run()
    np.testing.assert_array_equal(run.xic(57.0, 0.5), [2.0, 0.0, 0.0, 6.0])
    np.testing.assert_array_equal(run.xic(57.0, 0.3), [2.0, 0.0, 0.0, 0.0])


def test_slice_rebases_offsets_and_keeps_metadata():
    run = small_run()
    part = run.slice(2.0, 3.5)
    assert part.n_scans == 2
    np.testing.assert_array_equal(part.scan_offsets, [0, 0, 3])
    np.testing.assert_array_equal(part.tic, [0.0, 12.0])
    assert part.metadata is run.metadata
    assert run.slice(10, 20).n_scans == 0


def test_scan_returns_a_spectrum_with_its_time():
    spectrum = small_run().scan(2)
    assert spectrum.rt_seconds == 3.0
    np.testing.assert_array_equal(spectrum.mz, [40.0, 41.2, 422.485])
    assert small_run().scan(-1).rt_seconds == 4.0
    with pytest.raises(IndexError):
        small_run().scan(4)


def test_scan_index_at_picks_the_nearest_scan():
    run = small_run()
    assert [run.scan_index_at(t) for t in (0.0, 1.4, 1.6, 3.9, 99.0)] == [0, 0, 1, 3, 3]


def test_pickle_round_trip_stays_checked_and_read_only():
    run = small_run()
    copy = pickle.loads(pickle.dumps(run))
    np.testing.assert_array_equal(copy.mz, run.mz)
    assert not copy.mz.flags.writeable
    assert copy.metadata == run.metadata


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.tuples(st.floats(1, 1000), st.floats(0, 1e6)), max_size=8),
                max_size=12))
def test_tic_and_xic_match_a_plain_loop(scans):
    offsets = np.cumsum([0] + [len(s) for s in scans])
    mz = [m for s in scans for m, _ in s]
    intensity = np.array([v for s in scans for _, v in s], dtype=np.float32)
    run = Run(scan_times=np.arange(len(scans), dtype=float), scan_offsets=offsets,
              mz=mz, intensity=intensity)
    tic = [float(np.sum(intensity[offsets[i]:offsets[i + 1]], dtype=np.float64))
           for i in range(len(scans))]
    np.testing.assert_allclose(run.tic, tic, rtol=1e-12)


def test_parts_digests_are_kept_read_only_and_travel():
    parts = {"AcqData/MSScan.bin": "a" * 64, "AcqData/MSPeak.bin": "b" * 64}
    meta = RunMetadata(source_path="x.D", data_file="x.D/AcqData/MSPeak.bin",
                       sha256="b" * 64, parts_sha256=parts)
    parts["AcqData/MSScan.bin"] = "tampered"  # the caller's dict is copied, not kept
    assert meta.parts_sha256["AcqData/MSScan.bin"] == "a" * 64
    with pytest.raises(TypeError):
        meta.parts_sha256["AcqData/MSScan.bin"] = "c" * 64
    assert pickle.loads(pickle.dumps(meta)) == meta
    assert meta.to_dict()["parts_sha256"] == dict(meta.parts_sha256)
    run = small_run(metadata=meta)
    assert run.summary()["parts_sha256"] == dict(meta.parts_sha256)
    assert RunMetadata().parts_sha256 == {}


def test_dense_matrix_is_bounded_by_the_memory_budget(monkeypatch):
    """A run whose m/z reach millions (a flipped bit once made m/z 3,670,016 and the
    deconvolution asked for 87.5 GiB) is refused by name before anything is allocated."""
    run = Run(scan_times=[1.0, 2.0], scan_offsets=[0, 1, 2], mz=[40.0, 9000.0],
              intensity=[1.0, 1.0], metadata=RunMetadata(source_path="big.cdf"))
    monkeypatch.setenv("GCMS_MEMORY_BUDGET", "32K")
    with pytest.raises(FormatError, match=r"big.cdf: the scan x m/z matrix \(2 scans x "
                                          r"8,961 nominal masses, m/z 40 to 9000\) would "
                                          r"take 70.0 KiB, over the memory budget of 32.0 KiB"):
        run.matrix()
    assert run.matrix(40, 41).shape == (2, 2)
    with pytest.raises(ValueError):  # FormatError is a ValueError: callers of old still catch
        run.matrix()
