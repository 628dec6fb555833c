import numpy as np
import pytest

from gcms.signal import NoiseModel, difference_noise, estimate_noise


def test_difference_noise_of_white_noise():
    rng = np.random.default_rng(0)
    assert difference_noise(rng.normal(0, 5, 50_000)) == pytest.approx(5, rel=0.03)


def test_difference_noise_ignores_peaks_and_drift():
    rng = np.random.default_rng(1)
    t = np.arange(4000.0)
    y = 3 * t + rng.normal(0, 2, t.size)
    for centre in range(200, 4000, 400):
        y += 1e4 * np.exp(-0.5 * ((t - centre) / 4) ** 2)
    assert difference_noise(y) == pytest.approx(2, rel=0.1)


def test_difference_noise_on_a_matrix_is_per_column():
    rng = np.random.default_rng(2)
    matrix = rng.normal(0, [1.0, 4.0, 9.0], size=(20_000, 3))
    np.testing.assert_allclose(difference_noise(matrix), [1, 4, 9], rtol=0.05)


def _counting_matrix(gain, levels, n_scans=2600, electronic=0.0, seed=0):
    rng = np.random.default_rng(seed)
    mean = np.broadcast_to(np.asarray(levels, float), (n_scans, len(levels)))
    data = gain * rng.poisson(mean / gain).astype(float)
    if electronic:
        data += rng.normal(0, electronic, data.shape)
    return np.maximum(data, 0.0)


def test_noise_factor_of_pure_counting_noise_is_the_square_root_of_the_gain():
    levels = np.geomspace(200, 20_000, 40)
    for gain in (1.0, 10.0, 40.0):
        model = estimate_noise(_counting_matrix(gain, levels))
        assert model.factor == pytest.approx(np.sqrt(gain), rel=0.08), gain
        assert model.floor < 0.3 * model.factor * np.sqrt(levels[0])


def test_noise_model_recovers_an_electronic_floor():
    levels = np.geomspace(2000, 50_000, 40)
    model = estimate_noise(_counting_matrix(4.0, levels, electronic=60.0))
    assert model.factor == pytest.approx(2.0, rel=0.12)
    assert model.floor == pytest.approx(60.0, rel=0.25)
    # The σ it predicts at a level is the one the data show there.
    data = _counting_matrix(4.0, [10_000.0], n_scans=20_000, electronic=60.0, seed=5)
    assert model.sigma(10_000.0) == pytest.approx(data.std(), rel=0.05)


def test_noise_model_ignores_peaks():
    levels = np.geomspace(500, 5_000, 30)
    data = _counting_matrix(9.0, levels, n_scans=3900)
    t = np.arange(data.shape[0])[:, None]
    for centre in range(100, 3900, 150):
        data += 5e4 * np.exp(-0.5 * ((t - centre) / 3.0) ** 2)
    assert estimate_noise(data).factor == pytest.approx(3.0, rel=0.1)


def test_threshold_is_the_smallest_recorded_abundance_and_floors_sigma():
    data = _counting_matrix(4.0, np.full(20, 400.0))
    data[data < 350] = 0.0
    model = estimate_noise(data)
    assert model.threshold == data[data > 0].min()
    assert model.sigma(0.0) == pytest.approx(model.sigma(model.threshold))
    assert model.baseline_sigma == pytest.approx(float(model.sigma(0.0)))


def test_no_noise_segment_falls_back_to_unit_counting_noise():
    data = np.zeros((100, 4))
    data[50, 2] = 1000.0
    model = estimate_noise(data)
    assert (model.factor, model.floor, model.n_segments) == (1.0, 0.0, 0)
    assert model.threshold == 1000.0
    assert model.to_dict()["factor"] == 1.0
    assert isinstance(model, NoiseModel)


def test_estimate_noise_refuses_a_trace():
    with pytest.raises(ValueError, match="scan × ion"):
        estimate_noise(np.zeros(100))
