"""Tests for zoo.common.clocktime: labels, common sense error, bins and encodings."""

import json

import numpy as np
import pytest

from zoo.common import clocktime


def test_to_minutes_scalars_and_arrays():
    assert clocktime.to_minutes(3, 15) == 195
    assert clocktime.to_minutes(0, 0) == 0
    assert clocktime.to_minutes(12, 0) == 0
    assert clocktime.to_minutes(13, 5) == 65
    assert clocktime.to_minutes(11, 59.5) == pytest.approx(719.5)
    result = clocktime.to_minutes(np.array([0, 11, 6]), np.array([1, 59, 30]))
    np.testing.assert_array_equal(result, [1, 719, 390])


def test_from_minutes_rounds_and_carries():
    assert clocktime.from_minutes(195) == (3, 15)
    assert clocktime.from_minutes(719.6) == (0, 0)
    assert clocktime.from_minutes(59.5) == (1, 0)
    assert clocktime.from_minutes(720 + 61) == (1, 1)
    assert clocktime.from_minutes(-1) == (11, 59)
    hours, minutes = clocktime.from_minutes(np.array([0.4, 119.7, 719.49]))
    np.testing.assert_array_equal(hours, [0, 2, 11])
    np.testing.assert_array_equal(minutes, [0, 0, 59])


def test_round_trip_over_the_whole_dial():
    t = np.arange(720)
    hours, minutes = clocktime.from_minutes(t)
    np.testing.assert_array_equal(clocktime.to_minutes(hours, minutes), t)


def test_common_sense_error_known_values():
    assert clocktime.common_sense_error(clocktime.to_minutes(11, 50), clocktime.to_minutes(0, 10)) == 20
    assert clocktime.common_sense_error(100, 100) == 0
    assert clocktime.common_sense_error(0, 360) == 360
    assert clocktime.common_sense_error(0, 361) == 359
    assert clocktime.common_sense_error(719.5, 0.5) == pytest.approx(1.0)
    assert clocktime.common_sense_error(-10, 10) == 20


def test_common_sense_error_is_symmetric_bounded_and_vectorised():
    rng = np.random.default_rng(0)
    predicted = rng.uniform(-1000, 2000, 500)
    true = rng.uniform(0, 720, 500)
    forward = clocktime.common_sense_error(predicted, true)
    backward = clocktime.common_sense_error(true, predicted)
    np.testing.assert_allclose(forward, backward)
    assert forward.shape == (500,)
    assert np.all(forward >= 0) and np.all(forward <= 360)


def test_cse_summary_is_plain_json():
    summary = clocktime.cse_summary([0, 30, 100, 719], [10, 30, 101, 0])
    assert summary["count"] == 4
    assert summary["mean"] == pytest.approx((10 + 0 + 1 + 1) / 4)
    assert summary["median"] == pytest.approx(1.0)
    assert summary["max"] == pytest.approx(10.0)
    assert summary["within_1"] == pytest.approx(0.75)
    assert summary["within_5"] == pytest.approx(0.75)
    assert set(summary) == {"mean", "median", "p90", "within_1", "within_5", "max", "count"}
    assert all(type(value) in (float, int) for value in summary.values())
    json.dumps(summary)


def test_cse_summary_rejects_bad_input():
    with pytest.raises(ValueError, match="same size"):
        clocktime.cse_summary([1, 2], [1])
    with pytest.raises(ValueError, match="t_pred"):
        clocktime.cse_summary([], [])


def test_bins_round_trip():
    for bins in (12, 24, 72, 96, 144, 192, 360, 720):
        index = np.arange(bins)
        centres = clocktime.bin_centre(index, bins)
        np.testing.assert_array_equal(clocktime.bin_of(centres, bins), index)
    assert clocktime.bin_of(195, 12) == 3
    assert clocktime.bin_of(719.999, 12) == 11
    assert clocktime.bin_of(720, 12) == 0
    assert clocktime.bin_centre(3, 12) == pytest.approx(210.0)
    # Every time lies in its bin, within half a bin width of the centre.
    t = np.linspace(0, 719.99, 1000)
    error = clocktime.common_sense_error(clocktime.bin_centre(clocktime.bin_of(t, 72), 72), t)
    assert np.all(error <= 5.0 + 1e-9)


@pytest.mark.parametrize("bins", [0, -12, 12.0, True, 10**6])
def test_bins_must_be_positive_integers(bins):
    with pytest.raises(ValueError, match="bins"):
        clocktime.bin_of(10, bins)


def test_bin_centre_rejects_out_of_range_index():
    with pytest.raises(ValueError, match="index"):
        clocktime.bin_centre(12, 12)


def test_angle_encoding_round_trip():
    t = np.linspace(0, 719.9, 400)
    encoded = clocktime.angle_encoding(t, 720)
    assert encoded.shape == (400, 2)
    np.testing.assert_allclose(np.hypot(encoded[:, 0], encoded[:, 1]), 1.0)
    decoded = clocktime.angle_decoding(encoded[:, 0], encoded[:, 1], 720)
    np.testing.assert_allclose(decoded, t, atol=1e-9)
    # Direction only: scaling the pair does not change the decoded value.
    assert clocktime.angle_decoding(3.0, 0.0, 720) == pytest.approx(180.0)
    assert 0.0 <= clocktime.angle_decoding(-1e-12, 1.0, 60) < 60.0
    minute = clocktime.angle_encoding(45, 60)
    assert clocktime.angle_decoding(minute[0], minute[1], 60) == pytest.approx(45.0)


def test_angle_encoding_rejects_bad_period():
    with pytest.raises(ValueError, match="period"):
        clocktime.angle_encoding(1.0, 0)


def test_hands_to_minutes_picks_the_right_hour():
    # 2:58: the hour hand is almost on 3 and a noisy reading puts it past.
    assert clocktime.hands_to_minutes(clocktime.to_minutes(3, 1.5), 58) == pytest.approx(178.0)
    # 3:02: the hour hand reading lands just before 3.
    assert clocktime.hands_to_minutes(clocktime.to_minutes(2, 58.5), 2) == pytest.approx(182.0)
    # Wrap-around at 12: 11:59 with the hour hand read just past 12.
    assert clocktime.hands_to_minutes(1.0, 59) == pytest.approx(719.0)
    assert clocktime.hands_to_minutes(718.0, 1) == pytest.approx(1.0)
    # Exact readings are left alone, vectorised.
    t = np.arange(0, 720, 7.0)
    np.testing.assert_allclose(clocktime.hands_to_minutes(t, np.mod(t, 60)), t)


def test_hands_to_minutes_tolerates_hour_hand_error_under_half_an_hour():
    rng = np.random.default_rng(1)
    t = rng.uniform(0, 720, 1000)
    noisy_hour = t + rng.uniform(-29, 29, 1000)
    result = clocktime.hands_to_minutes(noisy_hour, np.mod(t, 60))
    assert np.all(clocktime.common_sense_error(result, t) < 1e-6)


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="t_pred"):
        clocktime.common_sense_error("soon", 3)
    with pytest.raises(ValueError, match="t"):
        clocktime.from_minutes(float("nan"))
    with pytest.raises(ValueError, match="hour"):
        clocktime.to_minutes("three", 5)


def test_a_reader_no_better_than_guessing_is_flagged():
    assert clocktime.GUESSING_CSE == 180
    assert clocktime.no_better_than_guessing({"test_cse_mean": 35.6}) is None
    assert clocktime.no_better_than_guessing({"test_accuracy": 0.98}) is None
    warning = clocktime.no_better_than_guessing({"test_cse_mean": 178.9})
    assert "178.9" in warning and "--seed" in warning and "\n" not in warning
    assert clocktime.no_better_than_guessing({"test_cse_mean": 151.0}) is not None
    assert clocktime.no_better_than_guessing({"test_cse_mean": 149.0}) is None
    # What guessing gives, measured: random readings against random times.
    rng = np.random.default_rng(0)
    guessed = clocktime.common_sense_error(rng.uniform(0, 720, 100_000), rng.uniform(0, 720, 100_000)).mean()
    assert guessed == pytest.approx(clocktime.GUESSING_CSE, rel=0.01)
