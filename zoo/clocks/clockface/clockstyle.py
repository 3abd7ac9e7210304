"""Clock styles: the design and scene of one clock, sampled from named tags.

A :class:`ClockStyle` is sampled by :func:`sample_style`. Every categorical
choice is one value of a named attribute, and each value has a tag (see
``STYLE_ATTRIBUTES`` and ``STYLE_TAGS``). ``include`` restricts each
attribute it mentions to the included values; ``exclude`` forbids values.
So ``exclude={"roman", "square"}`` never produces roman numerals nor square
dials, and ``include={"roman"}`` always produces roman numerals. This lets
whole families be held out of training for a generalisation test.

Tags, by attribute:

- dial_shape: ``round``, ``square``, ``rounded_square``, ``octagon``
- numerals: ``arabic``, ``roman``, ``partial_numerals`` (arabic 12/3/6/9
  only), ``no_numerals``
- ticks: ``no_ticks``, ``ticks_12``, ``ticks_60`` (minute ticks, longer at
  the hours), ``dots``, ``quarter_marks`` (thick marks at 12/3/6/9)
- face: ``light_face``, ``dark_face``
- second: ``second_hand``, ``no_second_hand``
- hand_shape: ``line_hands``, ``sword_hands`` (tapered), ``arrow_hands``
  (arrow or spade tips)
- hand_tail: ``hand_tails`` (hands extend behind the pivot),
  ``no_hand_tails``
- rotation: ``upright`` (within +-6 deg), ``tilted`` (within +-40 deg),
  ``rotated`` (any angle). A clock turned by more than 12 deg always
  carries a cue for 12 (numerals, brand text or a distinct 12 marker):
  with identical hour marks it would be ambiguous.
- warp: ``no_warp``, ``perspective`` (foreshortening, perspective, shear)
- background: ``flat_background``, ``gradient_background``,
  ``clutter_background`` (random shapes), ``texture_background`` (smooth
  noise)
- distractors: ``distractor_lines``, ``no_distractor_lines`` (long lines
  behind the clock)
- bezel: ``bezel`` (frame ring around the face), ``no_bezel``
- clock_size: ``large_clock`` (fills most of the frame, may crop the rim),
  ``small_clock`` (50-80 % of the frame, off-centre)
- blur / noise / jpeg / lighting: camera defects, each with a ``no_``
  counterpart (``no_blur``, ``no_noise``, ``no_jpeg``, ``no_lighting``)
"""

import dataclasses
import math

import numpy as np

from zoo.clocks.clockface import draws, fonts, palette, projection

STYLE_ATTRIBUTES = {
    "dial_shape": (("round", 0.55), ("square", 0.15), ("rounded_square", 0.15), ("octagon", 0.15)),
    "numerals": (("arabic", 0.35), ("roman", 0.2), ("partial_numerals", 0.15), ("no_numerals", 0.3)),
    "ticks": (
        ("no_ticks", 0.12),
        ("ticks_12", 0.23),
        ("ticks_60", 0.35),
        ("dots", 0.15),
        ("quarter_marks", 0.15),
    ),
    "face": (("light_face", 0.68), ("dark_face", 0.32)),
    "second": (("second_hand", 0.4), ("no_second_hand", 0.6)),
    "hand_shape": (("line_hands", 0.4), ("sword_hands", 0.3), ("arrow_hands", 0.3)),
    "hand_tail": (("hand_tails", 0.35), ("no_hand_tails", 0.65)),
    "rotation": (("upright", 0.6), ("tilted", 0.28), ("rotated", 0.12)),
    "warp": (("no_warp", 0.45), ("perspective", 0.55)),
    "background": (
        ("flat_background", 0.3),
        ("gradient_background", 0.25),
        ("clutter_background", 0.3),
        ("texture_background", 0.15),
    ),
    "distractors": (("distractor_lines", 0.25), ("no_distractor_lines", 0.75)),
    "bezel": (("bezel", 0.5), ("no_bezel", 0.5)),
    "clock_size": (("large_clock", 0.6), ("small_clock", 0.4)),
    "blur": (("blur", 0.3), ("no_blur", 0.7)),
    "noise": (("noise", 0.4), ("no_noise", 0.6)),
    "jpeg": (("jpeg", 0.3), ("no_jpeg", 0.7)),
    "lighting": (("lighting", 0.4), ("no_lighting", 0.6)),
}
"""Style attribute -> ((tag, sampling weight), ...). Tags are unique."""


STYLE_TAGS = frozenset(tag for options in STYLE_ATTRIBUTES.values() for tag, _ in options)
"""Every tag accepted by ``include`` / ``exclude`` (see the module docstring)."""


_BRAND_WORDS = ("QUARTZ", "SWISS", "MADE IN", "JAPAN", "GERMANY", "ELECTRIC", "RADIO", "AUTOMATIC")


@dataclasses.dataclass(frozen=True)
class ClockStyle:
    """Complete description of one clock design and its scene.

    Lengths of clock parts are in dial radii (the face's inscribed circle
    has radius 1); colours are RGB tuples of ints. Per-image randomness that
    is not part of the design (clutter shapes, noise pixels, the sub-minute
    offset) is drawn from the renderer's rng instead.
    """

    tags: frozenset
    dial_shape: str
    numerals: str
    ticks: str
    face: str
    hand_shape: str
    background: str
    second_hand: bool
    hand_tails: bool
    # Placement and view: centre and dial radius are fractions of the frame.
    centre_x: float
    centre_y: float
    radius: float
    rotation_degrees: float
    tilt_direction_degrees: float
    foreshortening: float
    perspective: float
    shear: float
    # Dial.
    face_colour: tuple
    face_shading: float
    corner_radius: float
    bezel_width: float
    bezel_colour: tuple
    bezel_line_colour: tuple
    rim_width: float
    chapter_rings: tuple
    chapter_ring_width: float
    ink_colour: tuple
    clock_shadow: tuple | None
    glare_alpha: int
    glare_angle_degrees: float
    # Markings.
    tick_outer: float
    minor_tick_length: float
    minor_tick_width: float
    major_tick_length: float
    major_tick_width: float
    minor_marks: str
    twelve_marker: str
    square_layout: bool
    numeral_font: str
    numeral_size: float
    numeral_orientation: str
    numeral_gap: float
    brand_text: str
    brand_text_low: str
    brand_font: str
    # Hands.
    arrow_variant: str
    hour_length: float
    hour_width: float
    minute_length: float
    minute_width: float
    tail_fraction: float
    hour_colour: tuple
    minute_colour: tuple
    hand_outline_colour: tuple | None
    second_length: float
    second_width: float
    second_tail: float
    second_colour: tuple
    second_counterweight: float
    cap_radius: float
    cap_colour: tuple
    hand_shadow: tuple | None
    hand_shadow_colour: tuple
    hour_slop_degrees: float
    # Background.
    background_colours: tuple
    texture_cells: int
    distractor_count: int
    clutter_count: int
    # Camera defects.
    lighting_strength: float
    lighting_direction_degrees: float
    vignette: float
    gain: float
    blur_radius: float
    noise_sigma: float
    jpeg_quality: int


def tag_set(tags, name):
    """An include/exclude argument as a frozenset of tags (unchecked), or a one-line ValueError."""
    if tags is None:
        return frozenset()
    if isinstance(tags, str):
        # A bare string would be split into characters; almost surely a slip.
        tags = {tags}
    try:
        return frozenset(tags)
    except TypeError:
        raise ValueError(f"{name} must be a collection of style tags, got {tags!r}") from None


def choose_tag(stream, options, include, exclude, weights, description):
    """One tag among an attribute's ``options`` ((tag, weight), ...): the included ones if
    any, never the excluded ones, drawn by ``weights`` ({tag: weight}).

    Raises:
        ValueError: ``exclude`` removes every value (``description`` names the attribute).
    """
    names = [name for name, _ in options]
    allowed = [name for name in names if name in include] or names
    allowed = [name for name in allowed if name not in exclude]
    if not allowed:
        raise ValueError(f"exclude={sorted(exclude)} removes every value of the {description}")
    return draws.pick(stream, allowed, [weights[name] for name in allowed])


def check_tags(tags, name):
    """Validate an include/exclude argument and return it as a frozenset."""
    tags = tag_set(tags, name)
    unknown = sorted(str(tag) for tag in tags - STYLE_TAGS)
    if unknown:
        raise ValueError(
            f"{name} holds unknown style tags {unknown}; known tags are {sorted(STYLE_TAGS)}"
        )
    return tags


def sample_style(rng, include=None, exclude=None, weights=None):
    """Sample a random clock design and scene.

    Args:
        rng: ``np.random.Generator`` supplying all randomness.
        include: Optional collection of tags from ``STYLE_TAGS``; every
            attribute that has an included value is restricted to its
            included values (``{"roman"}`` -> always roman numerals,
            ``{"roman", "arabic"}`` -> one of the two).
        exclude: Optional collection of tags that must never be chosen.
        weights: Optional {tag: sampling weight} replacing the weights of
            ``STYLE_ATTRIBUTES`` for those tags (the world profile draws its
            dials with the weights of real clocks); None keeps every draw as it was.

    Returns:
        A :class:`ClockStyle`; its ``tags`` holds one tag per attribute.

    Raises:
        ValueError: On unknown tags, on a tag both included and excluded, or
            when ``exclude`` leaves an attribute with no value.

    Example:
        >>> style = sample_style(np.random.default_rng(0), exclude={"roman"})
        >>> "roman" in style.tags
        False
    """
    if not isinstance(rng, np.random.Generator):
        raise ValueError(f"rng must be a numpy.random.Generator, got {rng!r}")
    include = check_tags(include, "include")
    exclude = check_tags(exclude, "exclude")
    both = sorted(include & exclude)
    if both:
        raise ValueError(f"include and exclude share the tags {both}")

    stream = draws.Stream(rng)
    choice = {}
    for attribute, options in STYLE_ATTRIBUTES.items():
        drawn = {name: (weights or {}).get(name, weight) for name, weight in options}
        names = [name for name, _ in options]
        choice[attribute] = choose_tag(stream, options, include, exclude, drawn,
                                       f"style attribute {attribute!r} ({names})")

    dial_shape = choice["dial_shape"]
    numerals = choice["numerals"]
    ticks = choice["ticks"]
    face = choice["face"]
    hand_shape = choice["hand_shape"]
    hand_tails = choice["hand_tail"] == "hand_tails"
    second_hand = choice["second"] == "second_hand"

    # --- Dial --------------------------------------------------------------
    face_colour = palette.light_colour(stream) if face == "light_face" else palette.dark_colour(stream)
    face_shading = float(stream.uniform(-0.18, 0.18)) if stream.random() < 0.25 else 0.0
    corner_radius = float(stream.uniform(0.15, 0.5))
    ink_colour = palette.ink_for(stream, face_colour, 90)

    if choice["bezel"] == "bezel":
        bezel_width = float(stream.uniform(0.04, 0.2))
        kind = draws.pick(stream, ("black", "metal", "wood", "colour", "white"), (0.3, 0.25, 0.15, 0.2, 0.1))
        if kind == "black":
            bezel_colour = palette.hsv(0.0, 0.0, stream.uniform(0.0, 0.2))
        elif kind == "metal":
            bezel_colour = palette.hsv(stream.uniform(0.08, 0.15), stream.uniform(0.0, 0.5), stream.uniform(0.55, 0.9))
        elif kind == "wood":
            bezel_colour = palette.hsv(stream.uniform(0.04, 0.1), stream.uniform(0.5, 0.85), stream.uniform(0.25, 0.6))
        elif kind == "colour":
            bezel_colour = palette.hsv(stream.random(), stream.uniform(0.4, 1.0), stream.uniform(0.3, 0.95))
        else:
            bezel_colour = palette.hsv(0.0, 0.0, stream.uniform(0.85, 1.0))
        shade = float(stream.uniform(-0.5, 0.5))
        bezel_line_colour = palette.mix(bezel_colour, (0, 0, 0) if shade < 0 else (255, 255, 255), abs(shade))
    else:
        bezel_width = 0.0
        bezel_colour = face_colour
        bezel_line_colour = face_colour
    rim_width = float(stream.uniform(0.008, 0.03)) if stream.random() < 0.55 else 0.0

    tick_outer = float(stream.uniform(0.9, 0.98))
    chapter_rings = ()
    if ticks in ("ticks_60", "dots") and stream.random() < 0.35:
        # A "railway" minute track: one or two thin rings around the ticks.
        chapter_rings = (tick_outer,)
        if stream.random() < 0.5:
            chapter_rings += (tick_outer - float(stream.uniform(0.04, 0.08)),)
    elif stream.random() < 0.12:
        chapter_rings = (float(stream.uniform(0.55, 0.8)),)
    chapter_ring_width = float(stream.uniform(0.006, 0.016))

    if ticks == "ticks_60":
        minor_tick_length = float(stream.uniform(0.03, 0.07))
        minor_tick_width = float(stream.uniform(0.008, 0.02))
        major_tick_length = float(stream.uniform(minor_tick_length + 0.02, 0.16))
        major_tick_width = float(stream.uniform(minor_tick_width, 0.05))
    elif ticks == "ticks_12":
        minor_tick_length = minor_tick_width = 0.0
        major_tick_length = float(stream.uniform(0.05, 0.17))
        major_tick_width = float(stream.uniform(0.015, 0.065))
    elif ticks == "dots":
        minor_tick_length = float(stream.uniform(0.006, 0.014)) if stream.random() < 0.4 else 0.0
        minor_tick_width = minor_tick_length
        major_tick_length = float(stream.uniform(0.018, 0.045))
        major_tick_width = major_tick_length
    elif ticks == "quarter_marks":
        minor_tick_length = float(stream.uniform(0.04, 0.09))
        minor_tick_width = float(stream.uniform(0.01, 0.025))
        major_tick_length = float(stream.uniform(0.1, 0.2))
        major_tick_width = float(stream.uniform(0.045, 0.09))
    else:
        minor_tick_length = minor_tick_width = major_tick_length = major_tick_width = 0.0
    minor_marks = (draws.pick(stream, ("none", "ticks", "dots"), (0.35, 0.4, 0.25)) if ticks == "quarter_marks"
                   else "none")

    # --- Numerals and text ---------------------------------------------------
    numeral_font = draws.pick(stream, fonts.FONT_NAMES)
    if numerals == "roman":
        numeral_size = float(stream.uniform(0.15, 0.24))
        numeral_orientation = "radial" if stream.random() < 0.45 else "upright"
    elif numerals in ("arabic", "partial_numerals"):
        numeral_size = float(stream.uniform(0.17, 0.32)) if numerals == "arabic" else float(stream.uniform(0.2, 0.38))
        numeral_orientation = "radial" if stream.random() < 0.08 else "upright"
    else:
        numeral_size = 0.0
        numeral_orientation = "upright"
    numeral_gap = float(stream.uniform(0.02, 0.08))

    letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    brand_text = ""
    if stream.random() < 0.35:
        brand_text = "".join(draws.pick(stream, letters) for _ in range(int(stream.integers(3, 9))))
    brand_text_low = draws.pick(stream, _BRAND_WORDS) if stream.random() < 0.2 else ""
    brand_font = draws.pick(stream, fonts.FONT_NAMES)

    # Square dials often run their marks and numerals along the edges.
    square_layout = dial_shape in ("square", "rounded_square") and stream.random() < 0.5

    rotation = choice["rotation"]
    twelve_marker = "none"
    if numerals == "no_numerals" and ticks != "no_ticks" and stream.random() < 0.25:
        twelve_marker = draws.pick(stream, ("triangle", "double"))

    # --- Hands ---------------------------------------------------------------
    arrow_variant = draws.pick(stream, ("arrow", "spade"))
    minute_length = float(stream.uniform(0.68, 0.95))
    hour_length = float(minute_length * stream.uniform(0.5, 0.75))
    minute_width = float(stream.uniform(0.02, 0.075))
    hour_width = float(minute_width * (stream.uniform(1.0, 1.9) if stream.random() < 0.85 else 1.0))
    tail_fraction = float(stream.uniform(0.12, 0.3)) if hand_tails else 0.0
    hand_colour = ink_colour if stream.random() < 0.6 else palette.ink_for(stream, face_colour, 90)
    hour_colour = hand_colour
    minute_colour = hand_colour if stream.random() < 0.85 else palette.ink_for(stream, face_colour, 90)
    hand_outline_colour = None
    if stream.random() < 0.12 and hand_shape != "line_hands":
        # Outlined hands: pale hands rimmed with a dark line (or the reverse).
        hand_outline_colour = hand_colour
        hour_colour = minute_colour = palette.mix(face_colour, hand_colour, float(stream.uniform(0.0, 0.4)))
    second_length = float(stream.uniform(0.75, 0.97))
    second_width = float(stream.uniform(0.008, 0.02))
    second_tail = float(stream.uniform(0.12, 0.3))
    second_colour = palette.accent_for(stream, face_colour, hand_colour)
    second_counterweight = float(stream.uniform(0.03, 0.06)) if stream.random() < 0.35 else 0.0
    cap_radius = float(stream.uniform(0.025, 0.08)) if stream.random() < 0.8 else 0.0
    cap_colour = draws.pick(stream, (hand_colour, second_colour, ink_colour))
    hand_shadow = None
    hand_shadow_colour = face_colour
    if stream.random() < 0.3:
        offset = float(stream.uniform(0.01, 0.035))
        direction = math.radians(float(stream.uniform(20.0, 160.0)))
        hand_shadow = (offset * math.cos(direction), offset * math.sin(direction))
        hand_shadow_colour = palette.mix(face_colour, (0, 0, 0), float(stream.uniform(0.15, 0.4)))
    hour_slop_degrees = float(np.clip(stream.normal(0.0, 2.0), -5.0, 5.0)) if stream.random() < 0.3 else 0.0

    # --- View ----------------------------------------------------------------
    if rotation == "upright":
        rotation_degrees = float(stream.uniform(-6.0, 6.0))
    elif rotation == "tilted":
        rotation_degrees = float(stream.uniform(-40.0, 40.0))
    else:
        rotation_degrees = float(stream.uniform(-180.0, 180.0))
    has_cue = numerals != "no_numerals" or brand_text or brand_text_low or twelve_marker != "none"
    if abs(rotation_degrees) > 12.0 and not has_cue:
        # Past 12 degrees (under half the 30 degrees between hour marks) a
        # clock with identical hour marks is ambiguous: which one is 12?
        # Such clocks always get a 12 marker.
        twelve_marker = draws.pick(stream, ("triangle", "double"))
    tilt_direction_degrees = float(stream.uniform(0.0, 360.0))
    if choice["warp"] == "perspective":
        foreshortening = float(stream.uniform(0.72, 1.0))
        perspective = float(stream.uniform(0.0, 0.2))
        shear = float(stream.uniform(-0.1, 0.1))
    else:
        foreshortening, perspective, shear = 1.0, 0.0, 0.0

    clock_shadow = None
    if stream.random() < 0.3:
        direction = math.radians(float(stream.uniform(0.0, 360.0)))
        offset = float(stream.uniform(0.02, 0.08))
        clock_shadow = (offset * math.cos(direction), offset * math.sin(direction), int(stream.integers(40, 110)))
    glare_alpha = int(stream.integers(20, 70)) if stream.random() < 0.12 else 0
    glare_angle_degrees = float(stream.uniform(0.0, 360.0))

    # Place the clock: find the extent of its outline under the view, then
    # scale it to the chosen share of the frame and shift it within the slack.
    view = projection.view_matrix(rotation_degrees, tilt_direction_degrees, foreshortening, perspective, shear)
    outer = projection.unit_outline(dial_shape, corner_radius, 48) * (1.0 + bezel_width)
    projected = projection.project_with(view, outer)
    low = projected.min(axis=0)
    high = projected.max(axis=0)
    extent = float(np.max(high - low))
    if choice["clock_size"] == "large_clock":
        fill = float(stream.uniform(0.82, 1.04))
    else:
        fill = float(stream.uniform(0.5, 0.8))
    radius = fill / extent
    # Offsets of the view-frame origin (dial centre) that keep the outline's
    # box inside the frame; large clocks may overhang a little.
    centre_low = -low * radius
    centre_high = 1.0 - high * radius
    centre = []
    for axis_index in range(2):
        first, second = centre_low[axis_index], centre_high[axis_index]
        if first > second:
            first = second = 0.5 * (first + second)
        centre.append(float(stream.uniform(first, second)))

    # --- Background ----------------------------------------------------------
    base = palette.any_colour(stream)
    background_colours = tuple(
        palette.mix(base, palette.any_colour(stream), float(stream.uniform(0.0, 0.6))) for _ in range(4)
    )
    if choice["background"] == "flat_background" and choice["bezel"] == "no_bezel" and stream.random() < 0.3:
        # A clock printed or drawn on paper: the face is the page itself.
        background_colours = (face_colour,) * 4
    texture_cells = int(stream.integers(3, 24))
    distractor_count = int(stream.integers(1, 6)) if choice["distractors"] == "distractor_lines" else 0
    clutter_count = int(stream.integers(5, 30)) if choice["background"] == "clutter_background" else 0

    # --- Camera ----------------------------------------------------------------
    if choice["lighting"] == "lighting":
        lighting_strength = float(stream.uniform(0.1, 0.5))
        vignette = float(stream.uniform(0.0, 0.4))
        gain = float(stream.uniform(0.75, 1.15))
    else:
        lighting_strength, vignette, gain = 0.0, 0.0, 1.0
    lighting_direction_degrees = float(stream.uniform(0.0, 360.0))
    blur_radius = float(stream.uniform(0.4, 1.4)) if choice["blur"] == "blur" else 0.0
    noise_sigma = float(stream.uniform(2.0, 14.0)) if choice["noise"] == "noise" else 0.0
    jpeg_quality = int(stream.integers(12, 76)) if choice["jpeg"] == "jpeg" else 0

    return ClockStyle(
        tags=frozenset(choice.values()),
        dial_shape=dial_shape,
        numerals=numerals,
        ticks=ticks,
        face=face,
        hand_shape=hand_shape,
        background=choice["background"],
        second_hand=second_hand,
        hand_tails=hand_tails,
        centre_x=centre[0],
        centre_y=centre[1],
        radius=float(radius),
        rotation_degrees=rotation_degrees,
        tilt_direction_degrees=tilt_direction_degrees,
        foreshortening=foreshortening,
        perspective=perspective,
        shear=shear,
        face_colour=face_colour,
        face_shading=face_shading,
        corner_radius=corner_radius,
        bezel_width=bezel_width,
        bezel_colour=bezel_colour,
        bezel_line_colour=bezel_line_colour,
        rim_width=rim_width,
        chapter_rings=chapter_rings,
        chapter_ring_width=chapter_ring_width,
        ink_colour=ink_colour,
        clock_shadow=clock_shadow,
        glare_alpha=glare_alpha,
        glare_angle_degrees=glare_angle_degrees,
        tick_outer=tick_outer,
        minor_tick_length=minor_tick_length,
        minor_tick_width=minor_tick_width,
        major_tick_length=major_tick_length,
        major_tick_width=major_tick_width,
        minor_marks=minor_marks,
        twelve_marker=twelve_marker,
        square_layout=square_layout,
        numeral_font=numeral_font,
        numeral_size=numeral_size,
        numeral_orientation=numeral_orientation,
        numeral_gap=numeral_gap,
        brand_text=brand_text,
        brand_text_low=brand_text_low,
        brand_font=brand_font,
        arrow_variant=arrow_variant,
        hour_length=hour_length,
        hour_width=hour_width,
        minute_length=minute_length,
        minute_width=minute_width,
        tail_fraction=tail_fraction,
        hour_colour=hour_colour,
        minute_colour=minute_colour,
        hand_outline_colour=hand_outline_colour,
        second_length=second_length,
        second_width=second_width,
        second_tail=second_tail,
        second_colour=second_colour,
        second_counterweight=second_counterweight,
        cap_radius=cap_radius,
        cap_colour=cap_colour,
        hand_shadow=hand_shadow,
        hand_shadow_colour=hand_shadow_colour,
        hour_slop_degrees=hour_slop_degrees,
        background_colours=background_colours,
        texture_cells=texture_cells,
        distractor_count=distractor_count,
        clutter_count=clutter_count,
        lighting_strength=lighting_strength,
        lighting_direction_degrees=lighting_direction_degrees,
        vignette=vignette,
        gain=gain,
        blur_radius=blur_radius,
        noise_sigma=noise_sigma,
        jpeg_quality=jpeg_quality,
    )
