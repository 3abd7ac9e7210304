"""The training renderer: analog clock images with known times, in many styles.

Readers are trained on as many clocks, and as much *variety*, as wanted, and
judged on clocks from renderers they never saw and on photographs, so every
visual property that does not carry the time (dial shape, numerals, hands,
colours, viewpoint, background, camera defects) is randomised. Only numpy and
Pillow are used (no TensorFlow, no OpenCV), so the renderer runs in worker
processes and on a light server.

The package, in the order a clock is made:

- :mod:`~zoo.clocks.clockface.clockstyle`: :class:`ClockStyle` and
  :func:`sample_style`, the style tags ``include`` / ``exclude`` take.
- :mod:`~zoo.clocks.clockface.draws`, :mod:`~zoo.clocks.clockface.palette`,
  :mod:`~zoo.clocks.clockface.fonts`: buffered random draws, colours, numeral
  fonts and glyphs.
- :mod:`~zoo.clocks.clockface.projection`, :mod:`~zoo.clocks.clockface.surface`:
  the dial frame, its projective map and the supersampled canvas.
- :mod:`~zoo.clocks.clockface.scene`, :mod:`~zoo.clocks.clockface.drawing`,
  :mod:`~zoo.clocks.clockface.camera`: background, the clock itself, camera defects.
- :mod:`~zoo.clocks.clockface.rendering`: one clock (:func:`render_clock`,
  :func:`render_clock_rgb`); :mod:`~zoo.clocks.clockface.batches`: seeded batches
  (:func:`render_batch`); :mod:`~zoo.clocks.clockface.leiden`: data sets on disk
  (:func:`write_dataset`, :func:`load_leiden`).

Callers use the names re-exported here (``clockface.render_batch``, ...).
"""

from zoo.clocks.clockface.backgrounds import backgrounds_digest
from zoo.clocks.clockface.batches import SCENES, batch_styles, render_batch
from zoo.clocks.clockface.clockstyle import STYLE_ATTRIBUTES, STYLE_TAGS, ClockStyle, sample_style
from zoo.clocks.clockface.fonts import FONT_NAMES
from zoo.clocks.clockface.leiden import RENDERERS, load_leiden, write_dataset
from zoo.clocks.clockface.rendering import GEOMETRY_POINTS, MINIMUM_SIZE, render_clock, render_clock_rgb
from zoo.clocks.clockface.worldstyle import WorldStyle
from zoo.clocks.clockface.surface import SUPERSAMPLE

__all__ = [
    "FONT_NAMES",
    "GEOMETRY_POINTS",
    "MINIMUM_SIZE",
    "RENDERERS",
    "SCENES",
    "STYLE_ATTRIBUTES",
    "STYLE_TAGS",
    "SUPERSAMPLE",
    "ClockStyle",
    "backgrounds_digest",
    "batch_styles",
    "load_leiden",
    "render_batch",
    "render_clock",
    "render_clock_rgb",
    "sample_style",
    "WorldStyle",
    "write_dataset",
]
