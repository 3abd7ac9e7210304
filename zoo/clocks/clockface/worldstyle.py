"""World-profile styles: the clock, its case and the photograph it is seen in.

The classic profile (:mod:`~zoo.clocks.clockface.clockstyle`) draws clean,
mostly frontal dials; readers trained on it read photographs badly. A
:class:`WorldStyle` keeps a classic :class:`~zoo.clocks.clockface.clockstyle.ClockStyle`
for the dial's design (shape, numerals, ticks, fonts, hand lengths), drawn
with the weights of real clocks, and adds what real clocks and photographs
show: colour faces and hands, cases (wall, alarm, wrist, station, tower,
mantel and children's teaching clocks), ornate hands, alarm hands, hand
shadows, glare, strong 3D tilt, occluders, and camera defects.

Like the classic tags, every categorical choice has a tag (``WORLD_ATTRIBUTES``);
``include`` / ``exclude`` take these plus the classic dial tags of
``DIAL_ATTRIBUTES``. Tag names shared with the classic profile mean the same.
"""

import dataclasses
import math

from zoo.clocks.clockface import clockstyle, draws, palette

DIAL_ATTRIBUTES = ("dial_shape", "numerals", "ticks", "hand_tail")
"""Classic style attributes the world profile keeps from the classic design."""

DIAL_WEIGHTS = {"round": 0.74, "square": 0.09, "rounded_square": 0.1, "octagon": 0.07,
                "arabic": 0.45, "roman": 0.2, "partial_numerals": 0.1, "no_numerals": 0.25,
                "hand_tails": 0.4, "no_hand_tails": 0.6}
"""Weights of the classic dial tags in the world profile (real dials are mostly round)."""

WORLD_ATTRIBUTES = {
    "case": (("bare_dial", 0.1), ("wall_clock", 0.3), ("alarm_clock", 0.13), ("wristwatch", 0.15),
             ("station_clock", 0.1), ("tower_clock", 0.08), ("mantel_clock", 0.07), ("teaching_clock", 0.07)),
    "face": (("light_face", 0.5), ("dark_face", 0.2), ("colour_face", 0.13), ("metal_face", 0.1),
             ("texture_face", 0.07)),
    "hand_shape": (("line_hands", 0.2), ("sword_hands", 0.14), ("arrow_hands", 0.1), ("spade_hands", 0.12),
                   ("breguet_hands", 0.1), ("skeleton_hands", 0.08), ("dauphine_hands", 0.1), ("thick_hands", 0.16)),
    "second": (("second_hand", 0.45), ("no_second_hand", 0.55)),
    "alarm": (("alarm_hand", 0.08), ("no_alarm_hand", 0.92)),
    "hand_shadow": (("hand_shadows", 0.5), ("no_hand_shadows", 0.5)),
    "tilt": (("frontal", 0.35), ("oblique", 0.43), ("steep", 0.22)),
    "rotation": (("upright", 0.72), ("tilted", 0.22), ("rotated", 0.06)),
    "framing": (("close_up", 0.3), ("medium_shot", 0.42), ("distant", 0.28)),
    "background": (("photo_background", 0.6), ("wall_background", 0.15), ("pattern_background", 0.25)),
    "glass": (("glare", 0.45), ("no_glare", 0.55)),
    "occlusion": (("occluded", 0.28), ("no_occlusion", 0.72)),
    "distractors": (("distractor_lines", 0.2), ("no_distractor_lines", 0.8)),
    "blur": (("no_blur", 0.55), ("blur", 0.28), ("motion_blur", 0.17)),
    "resolution": (("full_resolution", 0.8), ("low_resolution", 0.2)),
    "noise": (("noise", 0.55), ("no_noise", 0.45)),
    "jpeg": (("jpeg", 0.5), ("no_jpeg", 0.5)),
    "exposure": (("normal_exposure", 0.64), ("underexposed", 0.18), ("overexposed", 0.18)),
    "colour_cast": (("colour_cast", 0.35), ("neutral_colour", 0.65)),
    "lighting": (("lighting", 0.5), ("no_lighting", 0.5)),
}
"""World attribute -> ((tag, sampling weight), ...); some weights change with the case."""

CASE_WEIGHTS = {
    "alarm_clock": {"alarm_hand": 0.55, "arrow_hands": 0.2, "light_face": 0.6},
    "wristwatch": {"line_hands": 0.25, "dauphine_hands": 0.2, "skeleton_hands": 0.15, "thick_hands": 0.2,
                   "dark_face": 0.35, "metal_face": 0.2, "second_hand": 0.7},
    "station_clock": {"line_hands": 0.4, "thick_hands": 0.4, "light_face": 0.8, "second_hand": 0.5},
    "tower_clock": {"spade_hands": 0.4, "breguet_hands": 0.2, "dark_face": 0.35, "metal_face": 0.05,
                    "second_hand": 0.02, "glare": 0.1, "close_up": 0.1, "distant": 0.5},
    "mantel_clock": {"spade_hands": 0.3, "breguet_hands": 0.3, "light_face": 0.7},
    "teaching_clock": {"arrow_hands": 0.3, "line_hands": 0.3, "thick_hands": 0.3, "light_face": 0.6,
                       "colour_face": 0.3, "texture_face": 0.0, "metal_face": 0.0, "skeleton_hands": 0.0,
                       "breguet_hands": 0.0, "dauphine_hands": 0.0, "spade_hands": 0.0},
}
"""Per case, tag weights that differ from ``WORLD_ATTRIBUTES`` (towers have spade hands...)."""

CASE_DIAL_WEIGHTS = {
    "tower_clock": {"roman": 0.7, "no_numerals": 0.15, "round": 0.9},
    "station_clock": {"no_numerals": 0.55, "arabic": 0.4, "ticks_60": 0.8, "round": 0.95},
    "wristwatch": {"no_numerals": 0.45, "partial_numerals": 0.2},
    "teaching_clock": {"arabic": 1.0, "roman": 0.0, "partial_numerals": 0.0, "no_numerals": 0.0,
                       "ticks_60": 0.8, "round": 0.9},
    "mantel_clock": {"roman": 0.5},
}
"""Per case, classic dial tag weights that differ from ``DIAL_WEIGHTS``."""

WORLD_TAGS = frozenset(tag for options in WORLD_ATTRIBUTES.values() for tag, _ in options)
DIAL_TAGS = frozenset(tag for attribute in DIAL_ATTRIBUTES for tag, _ in clockstyle.STYLE_ATTRIBUTES[attribute])
TAGS = WORLD_TAGS | DIAL_TAGS
"""Every tag ``include`` / ``exclude`` accept with ``scenes="world"``."""


@dataclasses.dataclass(frozen=True)
class WorldStyle:
    """One world-profile clock: its dial design, case, hands, view, scene and camera.

    Lengths are in dial radii; ``dial`` is the classic style whose dial,
    marks, numerals and hand lengths are drawn (its view and camera fields
    are unused). Per-image randomness that is not a design choice (the photo
    crop, occluder shapes, noise pixels) comes from the renderer's stream.
    """

    tags: frozenset
    dial: clockstyle.ClockStyle
    case: str
    face: str
    hand_shape: str
    background: str
    # Case: colours, finish (plain, metal, wood), front ring and depth.
    case_colour: tuple
    trim_colour: tuple
    strap_colour: tuple
    case_finish: str
    bezel_width: float
    front_depth: float
    back_depth: float
    case_variant: int
    face_texture: bool
    # Hands.
    hand_height: float
    lume_colour: tuple | None
    minute_counterweight: float
    second_style: str
    alarm_hand: bool
    alarm_degrees: float
    alarm_length: float
    alarm_colour: tuple
    shadow_offset: tuple | None
    shadow_alpha: int
    shadow_softness: float
    # View and framing.
    roll_degrees: float
    tilt_degrees: float
    tilt_axis_degrees: float
    distance: float
    fill: float
    offset_x: float
    offset_y: float
    # Scene.
    glare: str
    glare_alpha: int
    glare_angle_degrees: float
    occluder_count: int
    distractor_count: int
    background_blur: float
    # Camera.
    blur_radius: float
    motion_length: float
    motion_degrees: float
    low_resolution: float
    noise_sigma: float
    chroma_noise: float
    jpeg_quality: int
    gain: float
    gamma: float
    cast: tuple
    lighting_strength: float
    lighting_degrees: float
    vignette: float


def check_tags(tags, name):
    """Validate a world-profile include/exclude argument and return it as a frozenset."""
    tags = clockstyle.tag_set(tags, name)
    unknown = sorted(str(tag) for tag in tags - TAGS)
    if unknown:
        raise ValueError(f"{name} holds tags the world scenes do not know: {unknown}; known: {sorted(TAGS)}")
    return tags


def _choose(stream, attribute, include, exclude, overrides):
    """One tag of ``attribute``, honouring include/exclude, with the case's weights."""
    options = WORLD_ATTRIBUTES[attribute]
    # A case may weigh a tag at zero; kept drawable so that include can still ask for it.
    weights = {name: max(overrides.get(name, weight), 1e-3) for name, weight in options}
    return clockstyle.choose_tag(stream, options, include, exclude, weights, f"world attribute {attribute!r}")


def _face_colour(stream, face):
    """Face colour for a face tag."""
    if face == "light_face":
        return palette.light_colour(stream)
    if face == "dark_face":
        return palette.dark_colour(stream)
    if face == "colour_face":
        return palette.hsv(stream.random(), stream.uniform(0.4, 0.95), stream.uniform(0.45, 0.97))
    if face == "metal_face":
        if stream.random() < 0.55:
            return palette.hsv(stream.uniform(0.5, 0.65), stream.uniform(0.0, 0.1), stream.uniform(0.6, 0.92))
        return palette.hsv(stream.uniform(0.08, 0.14), stream.uniform(0.25, 0.6), stream.uniform(0.6, 0.95))
    # texture_face: the base of wood, paper or stone.
    return draws.pick(stream, (palette.hsv(stream.uniform(0.05, 0.11), stream.uniform(0.3, 0.7),
                                           stream.uniform(0.45, 0.9)),
                               palette.hsv(stream.uniform(0.1, 0.15), stream.uniform(0.05, 0.3),
                                           stream.uniform(0.75, 0.97))))


def _case_colours(stream, case, face_colour):
    """(case colour, finish, trim colour) of a case."""
    metal = palette.hsv(stream.uniform(0.5, 0.65), stream.uniform(0.0, 0.08), stream.uniform(0.55, 0.9))
    brass = palette.hsv(stream.uniform(0.09, 0.14), stream.uniform(0.4, 0.7), stream.uniform(0.55, 0.9))
    black = palette.hsv(0.0, 0.0, stream.uniform(0.02, 0.2))
    bright = palette.hsv(stream.random(), stream.uniform(0.55, 1.0), stream.uniform(0.55, 1.0))
    wood_colour = palette.hsv(stream.uniform(0.04, 0.1), stream.uniform(0.5, 0.85), stream.uniform(0.25, 0.6))
    if case == "wall_clock":
        kind = draws.pick(stream, ("black", "white", "metal", "wood", "colour"), (0.3, 0.15, 0.2, 0.2, 0.15))
    elif case == "alarm_clock":
        kind = draws.pick(stream, ("metal", "brass", "colour", "black"), (0.3, 0.2, 0.35, 0.15))
    elif case == "wristwatch":
        kind = draws.pick(stream, ("metal", "brass", "black"), (0.6, 0.2, 0.2))
    elif case == "station_clock":
        kind = draws.pick(stream, ("black", "metal", "colour"), (0.6, 0.25, 0.15))
    elif case == "tower_clock":
        kind = "stone"
    elif case == "mantel_clock":
        kind = "wood" if stream.random() < 0.8 else "black"
    elif case == "teaching_clock":
        kind = "colour"
    else:
        kind = "none"
    colour = {"black": black, "metal": metal, "brass": brass, "wood": wood_colour, "colour": bright,
              "white": palette.hsv(0.0, 0.0, stream.uniform(0.85, 1.0)),
              "stone": palette.hsv(stream.uniform(0.06, 0.12), stream.uniform(0.05, 0.3), stream.uniform(0.45, 0.85)),
              "none": face_colour}[kind]
    finish = {"metal": "metal", "brass": "metal", "wood": "wood", "stone": "stone"}.get(kind, "plain")
    trim = brass if stream.random() < 0.5 else metal
    return colour, finish, trim


def _contrasting(stream, face_colour, minimum=70):
    """A saturated colour that stands out from the face in grey."""
    for _ in range(8):
        candidate = palette.hsv(stream.random(), stream.uniform(0.6, 1.0), stream.uniform(0.35, 1.0))
        if abs(palette.luminance(candidate) - palette.luminance(face_colour)) >= minimum:
            return candidate
    return palette.ink_for(stream, face_colour, minimum)


_EASIER = {"blur": "no_blur", "resolution": "full_resolution", "exposure": "normal_exposure",
           "occlusion": "no_occlusion", "tilt": "oblique", "noise": "no_noise"}
"""The milder tag each hard factor falls back to when a clock has too many."""

MOST_HARD_FACTORS = 2
"""Hard factors (blur, low resolution, bad exposure, occlusion, steep tilt, noise) most clocks may combine."""


def _cap_difficulty(stream, choice, include, exclude):
    """Soften clocks that drew many hard factors at once, so most stay readable by a person.

    Each factor alone is common in photos; all of them at once make a clock
    nobody can read. Above ``MOST_HARD_FACTORS`` (one more in a few clocks)
    random hard factors fall back to their milder tag, unless ``include``
    asks for them or ``exclude`` forbids the milder one.
    """
    hard = [attribute for attribute, easier in _EASIER.items()
            if choice[attribute] != easier and not (attribute == "tilt" and choice[attribute] == "frontal")]
    allowed = MOST_HARD_FACTORS + (1 if stream.random() < 0.15 else 0)
    while len(hard) > allowed:
        attribute = hard.pop(stream.integers(len(hard)))
        if choice[attribute] not in include and _EASIER[attribute] not in exclude:
            choice[attribute] = _EASIER[attribute]


def sample_world_style(rng, include=None, exclude=None, photos=True):
    """Sample a random world-profile clock and scene.

    Args:
        rng: ``np.random.Generator`` supplying all randomness.
        include, exclude: tags of :data:`TAGS` (see the module docstring).
        photos: Whether photos are available; without them ``photo_background``
            is never chosen (a tag only names what is drawn).

    Returns:
        A :class:`WorldStyle`.
    """
    include = check_tags(include, "include")
    exclude = check_tags(exclude, "exclude")
    both = sorted(include & exclude)
    if both:
        raise ValueError(f"include and exclude share the tags {both}")
    if not photos:
        exclude = exclude | {"photo_background"}
        if "photo_background" in include:
            raise ValueError("include asks for photo_background, but no background photos are available")
    stream = draws.Stream(rng)
    case = _choose(stream, "case", include, exclude, {})
    overrides = CASE_WEIGHTS.get(case, {})
    choice = {attribute: _choose(stream, attribute, include, exclude, overrides)
              for attribute in WORLD_ATTRIBUTES if attribute != "case"}
    choice["case"] = case
    _cap_difficulty(stream, choice, include, exclude)
    dial_weights = dict(DIAL_WEIGHTS, **CASE_DIAL_WEIGHTS.get(case, {}))
    dial = clockstyle.sample_style(rng, include & DIAL_TAGS, exclude & DIAL_TAGS,
                                   weights={tag: max(weight, 1e-3) for tag, weight in dial_weights.items()})
    dial_tags = {tag for tag in dial.tags if tag in DIAL_TAGS}

    # --- Colours -------------------------------------------------------------
    face = choice["face"]
    face_colour = _face_colour(stream, face)
    ink = palette.ink_for(stream, face_colour, 90)
    case_colour, case_finish, trim_colour = _case_colours(stream, case, face_colour)
    hand_colour = ink if stream.random() < 0.7 else palette.ink_for(stream, face_colour, 100)
    hour_colour = minute_colour = hand_colour
    if case == "teaching_clock" or stream.random() < 0.1:
        # Teaching clocks tell the hands apart by colour (often red and blue).
        hour_colour = _contrasting(stream, face_colour)
        minute_colour = _contrasting(stream, face_colour)
        if case == "teaching_clock" and stream.random() < 0.6:
            hour_colour = palette.hsv(stream.uniform(-0.03, 0.03), stream.uniform(0.7, 1.0), stream.uniform(0.6, 0.9))
            minute_colour = palette.hsv(stream.uniform(0.58, 0.68), stream.uniform(0.7, 1.0), stream.uniform(0.4, 0.8))
    outline = None
    if choice["hand_shape"] == "skeleton_hands":
        outline = hand_colour
    second_colour = palette.accent_for(stream, face_colour, hand_colour)
    alarm_colour = _contrasting(stream, face_colour, 50) if stream.random() < 0.7 else palette.mix(
        hand_colour, face_colour, 0.35)
    lume_colour = None
    if choice["hand_shape"] in ("thick_hands", "line_hands", "sword_hands") and stream.random() < 0.3:
        lume_colour = palette.hsv(stream.uniform(0.15, 0.35), stream.uniform(0.0, 0.35), stream.uniform(0.85, 1.0))

    # --- Hands -----------------------------------------------------------------
    # Hands thin enough to vanish under the camera's blur would leave an unreadable label.
    minute_width = max(dial.minute_width, 0.03)
    hour_width = max(dial.hour_width, 1.2 * minute_width)
    if choice["hand_shape"] == "thick_hands":
        minute_width = stream.uniform(0.06, 0.11)
        hour_width = minute_width * stream.uniform(1.0, 1.5)
    elif choice["hand_shape"] in ("spade_hands", "breguet_hands", "skeleton_hands", "dauphine_hands"):
        minute_width = max(minute_width, stream.uniform(0.035, 0.07))
        hour_width = max(hour_width, minute_width * stream.uniform(1.0, 1.4))
    tail_fraction = dial.tail_fraction
    minute_counterweight = 0.0
    if case in ("station_clock", "tower_clock") and stream.random() < 0.5:
        tail_fraction = stream.uniform(0.15, 0.3)
        minute_counterweight = stream.uniform(0.05, 0.09) if stream.random() < 0.5 else 0.0
    second_style = draws.pick(stream, ("plain", "counterweight", "lollipop"), (0.5, 0.35, 0.15))
    if case == "station_clock" and stream.random() < 0.6:
        second_style = "lollipop"
        second_colour = palette.hsv(stream.uniform(-0.02, 0.02), stream.uniform(0.8, 1.0), stream.uniform(0.6, 0.95))
    twelve_marker = dial.twelve_marker
    rotation = choice["rotation"]
    if rotation == "upright":
        roll = stream.normal(0.0, 3.0)
        roll = max(-8.0, min(8.0, roll))
    elif rotation == "tilted":
        roll = stream.uniform(8.0, 35.0) * (1 if stream.random() < 0.5 else -1)
    else:
        roll = stream.uniform(-180.0, 180.0)
    has_cue = dial.numerals != "no_numerals" or dial.brand_text or dial.brand_text_low or twelve_marker != "none"
    if abs(roll) > 12.0 and not has_cue:
        # As in the classic profile: a turned clock needs a mark that says which end is 12.
        twelve_marker = draws.pick(stream, ("triangle", "double"))
    hour_length, minute_length = dial.hour_length, dial.minute_length
    if case == "teaching_clock":
        minute_length = min(minute_length, 0.78)
        hour_length = min(hour_length, 0.55 * minute_length / 0.78)
    dial = dataclasses.replace(
        dial, face_colour=face_colour, ink_colour=ink, hour_colour=hour_colour, minute_colour=minute_colour,
        hand_outline_colour=outline, second_colour=second_colour, cap_colour=draws.pick(
            stream, (hand_colour, second_colour, trim_colour)), second_hand=choice["second"] == "second_hand",
        hand_shape=choice["hand_shape"], minute_width=float(minute_width), hour_width=float(hour_width),
        tail_fraction=float(tail_fraction), twelve_marker=twelve_marker, hour_length=float(hour_length),
        minute_length=float(minute_length), bezel_width=0.0, clock_shadow=None, glare_alpha=0, hand_shadow=None,
        face_shading=dial.face_shading if face != "metal_face" else stream.uniform(-0.2, 0.2),
        tick_outer=dial.tick_outer if case != "teaching_clock" else stream.uniform(0.8, 0.84),
        rim_width=dial.rim_width if case != "bare_dial" else max(dial.rim_width, 0.02),
        centre_x=0.5, centre_y=0.5, radius=0.5, rotation_degrees=0.0, foreshortening=1.0, perspective=0.0,
        shear=0.0, blur_radius=0.0, noise_sigma=0.0, jpeg_quality=0, lighting_strength=0.0, vignette=0.0,
        gain=1.0)

    # --- Case ------------------------------------------------------------------
    bezel_width = {"bare_dial": 0.0, "wristwatch": stream.uniform(0.08, 0.22), "station_clock": stream.uniform(
        0.1, 0.2), "tower_clock": stream.uniform(0.12, 0.3), "teaching_clock": stream.uniform(0.06, 0.14)}.get(
        case, stream.uniform(0.05, 0.22))
    front_depth = stream.uniform(0.02, 0.15) if case != "bare_dial" else 0.0
    back_depth = stream.uniform(0.1, 0.45) if case not in ("bare_dial", "tower_clock") else 0.0
    strap_colour = draws.pick(stream, (palette.hsv(stream.uniform(0.04, 0.1), stream.uniform(0.4, 0.8),
                                                   stream.uniform(0.1, 0.5)),
                                       palette.hsv(0.0, 0.0, stream.uniform(0.05, 0.2)), trim_colour,
                                       palette.hsv(stream.random(), stream.uniform(0.3, 0.9),
                                                   stream.uniform(0.3, 0.9))),
                              (0.35, 0.3, 0.2, 0.15))

    # --- Shadows, view and framing ---------------------------------------------
    shadow_offset = None
    if choice["hand_shadow"] == "hand_shadows":
        direction = stream.uniform(0.0, 2.0 * math.pi)
        reach = stream.uniform(0.4, 2.0)
        shadow_offset = (reach * math.cos(direction), reach * math.sin(direction))
    tilt = {"frontal": stream.uniform(0.0, 12.0), "oblique": stream.uniform(12.0, 38.0),
            "steep": stream.uniform(38.0, 60.0)}[choice["tilt"]]
    distance = 1.0 / stream.uniform(0.03, 0.4)
    fill = {"close_up": stream.uniform(0.85, 1.12), "medium_shot": stream.uniform(0.55, 0.85),
            "distant": stream.uniform(0.3, 0.55)}[choice["framing"]]

    # --- Camera ----------------------------------------------------------------
    low_resolution = stream.uniform(28.0, 56.0) if choice["resolution"] == "low_resolution" else 0.0
    soften = 0.4 if low_resolution else 1.0
    blur_radius = stream.uniform(0.5, 2.2) * soften if choice["blur"] == "blur" else 0.0
    motion_length = stream.uniform(2.0, 7.0) * soften if choice["blur"] == "motion_blur" else 0.0
    exposure = choice["exposure"]
    gain = {"normal_exposure": stream.uniform(0.85, 1.15), "underexposed": stream.uniform(0.4, 0.7),
            "overexposed": stream.uniform(1.3, 2.0)}[exposure]
    gamma = stream.uniform(0.7, 1.4) if stream.random() < 0.4 else 1.0
    cast = (1.0, 1.0, 1.0)
    if choice["colour_cast"] == "colour_cast":
        warm = stream.uniform(-0.35, 0.35)
        cast = (1.0 + warm, 1.0 + stream.uniform(-0.12, 0.12), 1.0 - warm)
    lit = choice["lighting"] == "lighting"
    noise_sigma = stream.uniform(2.0, 12.0) if choice["noise"] == "noise" else 0.0

    return WorldStyle(
        tags=frozenset(choice.values()) | dial_tags,
        dial=dial,
        case=case,
        face=face,
        hand_shape=choice["hand_shape"],
        background=choice["background"],
        case_colour=case_colour,
        trim_colour=trim_colour,
        strap_colour=strap_colour,
        case_finish=case_finish,
        bezel_width=float(bezel_width),
        front_depth=float(front_depth),
        back_depth=float(back_depth),
        case_variant=int(stream.integers(4)),
        face_texture=face == "texture_face",
        hand_height=stream.uniform(0.01, 0.06),
        lume_colour=lume_colour,
        minute_counterweight=float(minute_counterweight),
        second_style=second_style,
        alarm_hand=choice["alarm"] == "alarm_hand",
        alarm_degrees=stream.uniform(0.0, 360.0),
        alarm_length=stream.uniform(0.35, 0.6),
        alarm_colour=alarm_colour,
        shadow_offset=shadow_offset,
        shadow_alpha=int(stream.integers(50, 150)),
        shadow_softness=stream.uniform(0.005, 0.03),
        roll_degrees=float(roll),
        tilt_degrees=float(tilt),
        tilt_axis_degrees=stream.uniform(0.0, 360.0),
        distance=float(distance),
        fill=float(fill),
        offset_x=stream.random(),
        offset_y=stream.random(),
        glare=draws.pick(stream, ("lens", "window", "reflection", "highlight")) if choice["glass"] == "glare"
        else "none",
        glare_alpha=int(stream.integers(30, 120)),
        glare_angle_degrees=stream.uniform(0.0, 360.0),
        occluder_count=int(stream.integers(1, 3)) if choice["occlusion"] == "occluded" else 0,
        distractor_count=int(stream.integers(1, 4)) if choice["distractors"] == "distractor_lines" else 0,
        background_blur=stream.uniform(0.0, 3.0) if stream.random() < 0.5 else 0.0,
        blur_radius=float(blur_radius),
        motion_length=float(motion_length),
        motion_degrees=stream.uniform(0.0, 180.0),
        low_resolution=float(low_resolution),
        noise_sigma=float(noise_sigma),
        chroma_noise=stream.uniform(0.0, 0.6),
        jpeg_quality=int(stream.integers(15, 85)) if choice["jpeg"] == "jpeg" else 0,
        gain=float(gain),
        gamma=float(gamma),
        cast=tuple(float(value) for value in cast),
        lighting_strength=stream.uniform(0.1, 0.6) if lit else 0.0,
        lighting_degrees=stream.uniform(0.0, 360.0),
        vignette=stream.uniform(0.0, 0.5) if lit else 0.0,
    )
