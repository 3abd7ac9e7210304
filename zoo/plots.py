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
