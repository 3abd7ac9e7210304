"""The worst readings of a clock reader as a picture gallery (clock studies and
``zoo clock-errors``)."""

import numpy as np

from zoo.common import clocktime


def format_time(minutes):
    hour, minute = clocktime.from_minutes(np.asarray(minutes))
    return [f"{(h if h else 12):d}:{m:02d}" for h, m in zip(np.atleast_1d(hour), np.atleast_1d(minute))]


def worst_gallery(images, truth, predicted, path, title, count=24):
    """A PNG of the ``count`` worst readings: each image with true and read time."""
    from zoo import plots

    error = clocktime.common_sense_error(predicted, truth)
    order = np.argsort(-error)[:count]
    captions = [
        f"true {t}  read {p}\nerror {e:.0f} min"
        for t, p, e in zip(format_time(truth[order]), format_time(predicted[order]), error[order])
    ]
    plots.image_gallery(images[order], captions, path, title=title)
