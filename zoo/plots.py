"""Plots written as PNG files (matplotlib's Agg backend, no screen needed)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)


def learning_curves(history, path, title=""):
    """Plot every metric of a Keras history against the epoch, train beside validation.

    Args:
        history: ``{metric: [value per epoch]}`` as Keras' ``History.history``.
        path: the PNG to write.
        title: the figure's title.
    """
    names = [key for key in history if not key.startswith("val_") and key not in ("epoch_seconds", "learning_rate")]
    figure, axes = plt.subplots(1, max(1, len(names)), figsize=(4.5 * max(1, len(names)), 3.5), squeeze=False)
    for axis, metric in zip(axes[0], names):
        epochs = range(1, len(history[metric]) + 1)
        axis.plot(epochs, history[metric], marker="o", label="train")
        if f"val_{metric}" in history:
            axis.plot(epochs, history[f"val_{metric}"], marker="o", label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(metric)
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def image_gallery(images, captions, path, title="", columns=6):
    """A grid of grayscale or RGB uint8 images with a caption under each."""
    import numpy as np

    count = len(images)
    rows = max(1, int(np.ceil(count / columns)))
    figure, axes = plt.subplots(rows, columns, figsize=(2.1 * columns, 2.5 * rows), squeeze=False)
    for axis in axes.ravel():
        axis.axis("off")
    for axis, image, caption in zip(axes.ravel(), images, captions):
        axis.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=255)
        axis.set_title(caption, fontsize=8)
    figure.suptitle(title)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    plt.close(figure)


def error_histograms(errors_by_row, path, title=""):
    """Histograms of common-sense errors (minutes, log-scaled counts), one line per row."""
    import numpy as np

    figure, axis = plt.subplots(figsize=(8, 4.5))
    edges = np.concatenate([[0, 0.5, 1, 2, 3, 5, 10, 20, 30, 60, 120, 240, 361]])
    centres = np.arange(len(edges) - 1)
    for row, values in errors_by_row.items():
        counts, _ = np.histogram(values, bins=edges)
        axis.plot(centres, counts / max(1, len(values)), marker="o", label=f"{row} (mean {np.mean(values):.1f})")
    axis.set_xticks(centres)
    axis.set_xticklabels([f"{low:g}-{high:g}" for low, high in zip(edges[:-1], edges[1:])], rotation=45, fontsize=8)
    axis.set_xlabel("common-sense error (minutes)")
    axis.set_ylabel("share of test clocks")
    axis.set_yscale("log")
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    axis.set_title(title)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def factor_bars(rows, path, overall=None, title=""):
    """Horizontal bars of ``cse_mean`` per (factor, value) row, grouped by factor, with
    each bar's clock count; a dashed line marks the ``overall`` mean."""
    labels = [f"{row['factor']}: {row['value']} ({row['count']})" for row in rows]
    values = [row["cse_mean"] for row in rows]
    factors = [row["factor"] for row in rows]
    palette = plt.get_cmap("tab10")
    order = list(dict.fromkeys(factors))  # factors in order of first appearance
    colours = [palette(order.index(factor) % 10) for factor in factors]
    figure, axis = plt.subplots(figsize=(8, 0.28 * len(rows) + 1.2))
    positions = range(len(rows))[::-1]
    axis.barh(list(positions), values, color=colours)
    axis.set_yticks(list(positions))
    axis.set_yticklabels(labels, fontsize=8)
    if overall is not None:
        axis.axvline(overall, color="black", linestyle="--", linewidth=1, label=f"all clocks ({overall:.1f})")
        axis.legend(fontsize=8, loc="lower right")
    axis.set_xlabel("mean common-sense error (minutes)")
    axis.grid(axis="x", alpha=0.3)
    axis.set_title(title, fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def metric_against_minutes(runs, path, metric="val_accuracy", title="", target=None):
    """Plot a metric per epoch against the cumulative training minutes, one line per run,
    with each run's final test figure (``test_<name>``) as a star at its end.

    Args:
        runs: ``[(label, history dict with epoch_seconds, test figure or None)]``.
        path: the PNG to write.
        metric: the history key to plot (``val_accuracy``).
        title: the figure's title.
        target: a horizontal line to mark (a goal), or None.
    """
    figure, axis = plt.subplots(figsize=(7, 4.2))
    for label, history, test in runs:
        minutes, total = [], 0.0
        for seconds in history["epoch_seconds"]:
            total += seconds / 60.0
            minutes.append(total)
        line, = axis.plot(minutes, history[metric], marker="o", markersize=3, label=label)
        if test is not None:
            axis.plot([minutes[-1]], [test], marker="*", markersize=12, color=line.get_color())
            axis.annotate(f"{test:.4f}", (minutes[-1], test), textcoords="offset points", xytext=(4, 4), fontsize=8)
    if target is not None:
        axis.axhline(target, color="grey", linestyle="--", linewidth=1, label=f"goal {target:g}")
    axis.set_xlabel("training minutes (two CPU cores)")
    axis.set_ylabel(f"{metric} (stars: test)")
    axis.set_title(title)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=100, format="png")
    plt.close(figure)
