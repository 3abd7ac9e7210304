"""Training progress for ``zoo train``: a tqdm bar within each epoch and a line per epoch.

Keras' own display is one line per epoch (``verbose=2``) or a bar (``verbose=1``)
that, off a terminal, writes a new line with colour codes at every update and fills
a CI log. This callback takes its place (the fit runs with Keras' ``verbose=0``):

- on a terminal, a tqdm bar redrawn in place: steps done/total, loss, samples per
  second, ETA; it is cleared at the end of the epoch;
- elsewhere (a pipe, a file, a CI log), where tqdm would write every redraw on one
  line joined by carriage returns, a plain line at each tenth of the epoch
  (``lines_per_epoch``) once ``line_seconds`` have passed since the last, so short
  epochs print their epoch line only; every ``line_seconds`` when the epoch's length
  is unknown;
- in both, one line per epoch: the epoch, its figures (validation ones too) and seconds.

The number of steps is the training data's cardinality when tf.data knows it, else
the count of the previous epoch, else unknown (the bar counts without a total).
Rates leave out each epoch's first step, which carries the tracing and the pipeline's
start.
"""

import numbers
import os
import sys
import time

# tqdm formats: the bar on a terminal, the plain line elsewhere, and either without a total.
BAR_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} steps [{elapsed}<{remaining}{postfix}]"
LINE_FORMAT = "{desc}: {n_fmt}/{total_fmt} steps ({percentage:.0f}%) [{elapsed}<{remaining}{postfix}]"
UNKNOWN_FORMAT = "{desc}: {n_fmt} steps [{elapsed}{postfix}]"
# Figures a callback adds to the epoch's logs that the epoch line already shows.
NOT_SHOWN = ("epoch_seconds",)


def callback(verbose, samples_per_step=None, stream=None, lines_per_epoch=10, line_seconds=20.0):
    """The progress callback for Keras-style ``verbose``, or None when silent.

    Args:
        verbose: 0 nothing, 1 the bar (or lines) within epochs and a line per epoch,
            2 the line per epoch only.
        samples_per_step: the batch size, for samples per second (steps per second if None).
        stream: where to write; ``sys.stdout`` if None (where Keras writes too).
        lines_per_epoch: off a terminal, the marks within an epoch where a line may be written.
        line_seconds: off a terminal, the least seconds between two lines.
    """
    if not verbose:
        return None
    import keras
    import tqdm

    class Progress(keras.callbacks.Callback):
        """Shows each training step and each epoch's figures (see the module's docstring)."""

        def __init__(self):
            super().__init__()
            self.stream = stream or sys.stdout
            self.steps_within = verbose == 1
            self.on_terminal = self.steps_within and _is_terminal(self.stream)
            self.known_steps = None  # learnt from the first epoch when the data has no cardinality
            self.bar = None

        def on_epoch_begin(self, epoch, logs=None):
            self.description = f"epoch {epoch + 1}/{self.params.get('epochs', '?')}"
            self.total = self.params.get("steps") or self.known_steps
            self.done = 0
            self.started = self.last_line = time.perf_counter()
            self.first_step_ended = None
            self.last_mark = 0
            if self.on_terminal:
                self.bar = tqdm.tqdm(
                    total=self.total, desc=self.description, file=self.stream, leave=False, dynamic_ncols=True,
                    mininterval=0.2, bar_format=BAR_FORMAT if self.total else UNKNOWN_FORMAT,
                )

        def on_train_batch_end(self, batch, logs=None):
            self.done = batch + 1  # Keras' step index: right under steps_per_execution too
            if not self.steps_within:
                return
            now = time.perf_counter()
            if self.first_step_ended is None:
                self.first_step_ended = now
            if self.bar is not None:
                self.bar.set_postfix_str(self.postfix(logs, now), refresh=False)
                self.bar.update(self.done - self.bar.n)
            elif self.line_due(now):
                self.last_line = now
                print(tqdm.tqdm.format_meter(
                    self.done, self.total, now - self.started, prefix=self.description, rate=self.rate(now),
                    postfix=self.postfix(logs, now), bar_format=LINE_FORMAT if self.total else UNKNOWN_FORMAT,
                ), file=self.stream, flush=True)

        def line_due(self, now):
            """Off a terminal: whether a line is due at this step (see the module's docstring)."""
            waited = now - self.last_line >= line_seconds
            if not self.total:
                return waited
            mark = self.done * lines_per_epoch // self.total
            crossed, self.last_mark = mark > self.last_mark, mark
            return crossed and waited and self.done < self.total  # the epoch line reports the last step

        def rate(self, now):
            """Steps per second since the end of the epoch's first step (the first step alone before)."""
            if self.done > 1 and now > self.first_step_ended:
                return (self.done - 1) / (now - self.first_step_ended)
            return self.done / max(now - self.started, 1e-9)

        def postfix(self, logs, now):
            figures = [f"{key} {_number(value)}" for key, value in _figures(logs)[:3]]
            rate = self.rate(now)
            figures.append(f"{rate * samples_per_step:,.0f} samples/s" if samples_per_step else f"{rate:.2f} steps/s")
            return ", ".join(figures)

        def on_test_begin(self, logs=None):
            if self.bar is not None:
                self.bar.set_description_str(f"{self.description} validating")

        def on_epoch_end(self, epoch, logs=None):
            self.close()
            self.known_steps = self.done or self.known_steps
            seconds = time.perf_counter() - self.started
            figures = [f"{key} {_number(value)}" for key, value in _figures(logs)]
            print(f"{self.description}: {', '.join([*figures, f'{seconds:.1f} s'])}", file=self.stream, flush=True)

        def on_train_end(self, logs=None):
            self.close()

        def close(self):
            if self.bar is not None:
                self.bar.close()
                self.bar = None

    return Progress()


def _is_terminal(stream):
    """Whether ``stream`` is a terminal with a width (a pseudo-terminal of 0 columns shows no bar)."""
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False
    try:
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, OSError, ValueError):  # a terminal-like object without a file descriptor
        return True


def _figures(logs):
    """``(name, value)`` of the numeric logs: training figures, then validation ones,
    each with the losses first (``loss``, then a GAN's ``d_loss``, ...)."""
    items = [(key, value) for key, value in (logs or {}).items()
             if key not in NOT_SHOWN and isinstance(value, numbers.Real) and not isinstance(value, bool)]

    def order(item):
        validation = item[0].startswith("val_")
        name = item[0][len("val_"):] if validation else item[0]
        return validation, name != "loss", not name.endswith("loss")

    return sorted(items, key=order)


def _number(value):
    return f"{value:.4g}"
