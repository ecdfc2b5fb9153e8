"""Options as frozen dataclasses: one class per engine and one for the pipeline.

Each option is a dataclass field made by :func:`option`: its type (from the annotation), default,
allowed values (``choices`` or a ``range``) and help text are written once, here or in the engine's
module, and everything else is derived from them: the ``talkface`` command's flags
(:mod:`talkface.cli`), the web form's parsing and its OpenAPI schema (:mod:`talkface.web.uploads`,
:mod:`talkface.web.api`), the page's widgets (:mod:`talkface.web.ui`) and the benchmark's engine
choice. Constructing an options object checks every value: a bad one, or a missing required one
(weights without a default), raises :class:`OptionError` there and nowhere else.

This module imports no torch, OpenCV or PyAV: the command line is built from it quickly.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from talkface.errors import TalkfaceError
from talkface.media import DEFAULT_FPS, FPS_RANGE, PRESETS, VIDEO_PRESET
from talkface.speech import VOICES

KINDS = ("choice", "bool", "int", "float", "path", "pixels", "numbers")  # what an option's value is
PIXELS_METAVAR = ("TOP", "BOTTOM", "LEFT", "RIGHT")
PAD_RANGE = (-500, 500)  # pixels: a pad beyond this is a typing error
ACCELERATORS = ("auto", "bf16", "onnx", "none")  # how a neural engine runs (talkface.models.accelerate)
RESIZE_RANGE = (1, 8)
POSE_STYLE_RANGE = (0, 999)  # the shipped model has fewer: checked when it is loaded
SEED_RANGE = (0, 2**31 - 1)
EXPRESSION_SCALE_RANGE = (0.0, 3.0)  # times the expression ExpNet gives (SadTalker's --expression_scale)
MAX_NUMBERS = 32  # values of a "numbers" option (a list of angles)
INPUT_ANGLE_RANGE = (-20.0, 20.0)  # degrees from the photo's pose: what the head renderer turns cleanly
PREPROCESS = ("full", "crop", "resize")  # what of a photo is animated (SadTalker's --preprocess)


class OptionError(TalkfaceError):
    """A bad or missing option value; ``option`` is the field's name, the message starts with it."""

    def __init__(self, option: str, problem: str) -> None:
        super().__init__(problem)
        self.option = option


@dataclass(frozen=True)
class OptionSpec:
    """What a front end needs to know about one option besides its type and default.

    Attributes:
        help: one sentence for ``--help``, the API schema and the page.
        label: short label for the page (default: ``help``).
        choices: allowed values of a ``choice`` option.
        range: ``(lo, hi)`` inclusive bounds of a number (of each number of a ``pixels`` option).
        ui_range: the page slider's bounds when narrower than ``range``.
        ui_default: the page widget's value for an option whose default is ``None`` (unset).
        what: noun phrase for error messages (``"a frame rate"``).
        required: for an option without a default: what to give, for the error when it is missing.
        web: offered by the page and the API (file paths never are: a server supplies them).
        aliases: extra command-line flags (``--checkpoint_path`` as Wav2Lip spells it).
    """

    help: str
    label: str | None = None
    choices: tuple[str, ...] | None = None
    range: tuple[float, float] | None = None
    ui_range: tuple[float, float] | None = None
    ui_default: Any = None
    what: str | None = None
    required: str | None = None
    web: bool = True
    aliases: tuple[str, ...] = ()


def option(default: Any, help: str, **spec: Any) -> Any:
    """A dataclass field holding one option (``spec``: the other :class:`OptionSpec` attributes)."""
    return dataclasses.field(default=default, metadata={"option": OptionSpec(help=help, **spec)})


@dataclass(frozen=True)
class OptionField:
    """One option of an options class, as the front ends see it.

    Attributes:
        name: the field's name (the form field; the flag is ``--`` + name with dashes).
        kind: one of :data:`KINDS`.
        default: the dataclass default (``None``: unset).
        optional: ``None`` is a valid value.
        spec: :class:`OptionSpec`.
    """

    name: str
    kind: str
    default: Any
    optional: bool
    spec: OptionSpec

    @property
    def flag(self) -> str:
        """The command-line flag, e.g. ``--resize-factor``."""
        return "--" + self.name.replace("_", "-")


def _kind(hint: Any, spec: OptionSpec) -> tuple[str, bool]:
    args = typing.get_args(hint)
    optional = type(None) in args
    base = [a for a in args if a is not type(None)] if optional else [hint]
    t = base[0] if len(base) == 1 else hint
    if t is bool:
        return "bool", optional
    if t is int:
        return "int", optional
    if t is float:
        return "float", optional
    if t is Path:
        return "path", optional
    if t is str and spec.choices:
        return "choice", optional
    if typing.get_origin(t) is tuple and typing.get_args(t) == (int, int, int, int):
        return "pixels", optional
    if typing.get_origin(t) is tuple and typing.get_args(t) == (float, ...):
        return "numbers", optional
    raise TypeError(f"no option kind for {hint!r}")


@functools.cache
def option_fields(cls: type) -> tuple[OptionField, ...]:
    """The options of an options dataclass, in declaration order."""
    hints = typing.get_type_hints(cls)
    fields = []
    for f in dataclasses.fields(cls):
        spec = f.metadata.get("option")
        if spec is None:
            continue
        kind, optional = _kind(hints[f.name], spec)
        fields.append(OptionField(f.name, kind, f.default, optional, spec))
    return tuple(fields)


def _describe(field: OptionField) -> str:
    """``"a whole number from 1 to 8"``, for error messages."""
    spec, kind = field.spec, field.kind
    if kind == "numbers":
        noun = f"1 to {MAX_NUMBERS} {spec.what or 'numbers'}"
    else:
        noun = spec.what or {"int": "a whole number", "float": "a number", "pixels": "4 whole numbers"}.get(
            kind, ""
        )
    if spec.range is not None:
        lo, hi = spec.range
        return f"{noun} from {lo:g} to {hi:g}" + (
            " (pixels: top bottom left right)" if kind == "pixels" else ""
        )
    return noun + (" of pixels (top bottom left right)" if kind == "pixels" else "")


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def check_value(field: OptionField, value: Any) -> Any:
    """``value`` checked against ``field`` and normalised (a list of pixels or numbers to a tuple, a
    string path to a :class:`~pathlib.Path`, an int to a float where a float is wanted).

    Raises:
        OptionError: the value is of the wrong type, not one of the choices, or out of range.
    """
    name, kind, spec = field.name, field.kind, field.spec
    if value is None:
        if field.optional:
            return None
        raise OptionError(name, f"{name} must be {_describe(field) or 'given'}, got None")

    def bad() -> OptionError:
        return OptionError(name, f"{name} must be {_describe(field)}, got {value!r}")

    if kind == "choice":
        if value not in spec.choices:
            raise OptionError(name, f"unknown {name} {value!r} (choose from {', '.join(spec.choices)})")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise OptionError(name, f"{name} must be true or false, got {value!r}")
        return value
    if kind == "path":
        if not isinstance(value, str | Path) or not str(value):
            raise OptionError(name, f"{name} must be a file path, got {value!r}")
        return Path(value)
    if kind == "pixels":
        if not isinstance(value, tuple | list) or len(value) != 4 or not all(_is_int(v) for v in value):
            raise bad()
        value = tuple(value)
        numbers = value
    elif kind == "numbers":
        if not isinstance(value, tuple | list) or not 1 <= len(value) <= MAX_NUMBERS:
            raise bad()
        if not all((_is_int(v) or isinstance(v, float)) and math.isfinite(v) for v in value):
            raise bad()
        value = tuple(float(v) for v in value)
        numbers = value
    elif kind == "int":
        if not _is_int(value):
            raise bad()
        numbers = (value,)
    else:  # float
        if not (_is_int(value) or isinstance(value, float)) or not math.isfinite(value):
            raise bad()
        numbers = (value,)
    if spec.range is not None and not all(spec.range[0] <= v <= spec.range[1] for v in numbers):
        raise bad()
    return float(value) if kind == "float" else value


@dataclass(frozen=True)
class Options:
    """Base of every options class: construction checks every field (:func:`check_value`), then the
    class's own :meth:`check` for rules between fields."""

    def __post_init__(self) -> None:
        for field in option_fields(type(self)):
            value = getattr(self, field.name)
            if value is None and field.spec.required:
                raise OptionError(field.name, self.missing(field))
            object.__setattr__(self, field.name, check_value(field, value))
        self.check()

    def missing(self, field: OptionField) -> str:
        """The error for a required option left unset."""
        return f"{field.name} must be given ({field.spec.required})"

    def check(self) -> None:
        """Rules between fields (override); raise :class:`OptionError`."""


class EngineOptions(Options):
    """Base of an engine's options class; ``engine`` is the engine's registry name."""

    engine: ClassVar[str] = ""

    def missing(self, field: OptionField) -> str:
        return f"the {self.engine} engine needs {field.flag} ({field.spec.required})"


@dataclass(frozen=True)
class SyncOptions(Options):
    """Options of the pipeline around any engine: the input's frame rate and size, face tracking,
    how a short video is replayed, and the encoder (``talkface sync``'s flags besides the engine's)."""

    fps: float | None = option(
        None,
        f"frame rate for a photo input (default {DEFAULT_FPS:g}); videos keep their own",
        label="Frames per second (photos)",
        range=FPS_RANGE,
        ui_range=(10, 60),
        ui_default=DEFAULT_FPS,
        what="a frame rate",
    )
    box: tuple[int, int, int, int] | None = option(
        None,
        "fixed face box in pixels; skips face detection (as Wav2Lip's --box)",
        web=False,
    )
    nosmooth: bool = option(
        False, "do not smooth face landmarks over time", label="No smoothing of face landmarks"
    )
    resize_factor: int = option(
        1,
        "divide the input resolution by this integer first (faster, smaller output)",
        label="Resize factor (divide the resolution)",
        range=RESIZE_RANGE,
        ui_range=(1, 4),
    )
    loop: bool = option(
        False,
        "cycle a video shorter than the speech (default: ping-pong it back and forth)",
        label="Loop a short video (instead of ping-pong)",
    )
    still: bool = option(
        False,
        "photo: keep the head still (as SadTalker's --still); the eyes still blink",
        label="Still head (photo)",
    )
    pose_style: int | None = option(
        None,
        "photo: whose head motion to imitate, a training speaker's number (talkface/weights/head_motion.md "
        "lists them; default: the speaker of median motion)",
        label="Head-motion style (photo)",
        range=POSE_STYLE_RANGE,
        ui_range=(0, 30),
        what="a style number",
        aliases=("--pose_style",),
    )
    seed: int = option(
        0,
        "photo: seed of the head motion and blinks (the same seed gives the same motion)",
        label="Head-motion seed (photo)",
        range=SEED_RANGE,
        ui_range=(0, 100),
    )
    no_blink: bool = option(False, "photo: no blinks", label="No blinks (photo)")
    expression_scale: float = option(
        0.0,
        "photo: strength of the expression ExpNet adds to brows, cheeks and eyes (as SadTalker's "
        "--expression_scale; 0, the default for now: none; 1: as learned)",
        label="Expression scale (photo)",
        range=EXPRESSION_SCALE_RANGE,
        ui_range=(0, 3),
        what="a scale",
        aliases=("--expression_scale",),
    )
    input_yaw: tuple[float, ...] | None = option(
        None,
        "photo: turn the head through these yaw angles, in degrees from the photo's pose (positive: the "
        "face turns to the image's right), at a constant speed over the whole video (SadTalker's "
        "--input_yaw; one angle holds it); replaces the generated yaw",
        label="Yaw path, degrees (photo)",
        range=INPUT_ANGLE_RANGE,
        what="angles in degrees",
        aliases=("--input_yaw",),
    )
    input_pitch: tuple[float, ...] | None = option(
        None,
        "photo: pitch angles as --input-yaw does yaw (positive: the chin goes down)",
        label="Pitch path, degrees (photo)",
        range=INPUT_ANGLE_RANGE,
        what="angles in degrees",
        aliases=("--input_pitch",),
    )
    input_roll: tuple[float, ...] | None = option(
        None,
        "photo: roll angles as --input-yaw does yaw (positive: the head tilts clockwise)",
        label="Roll path, degrees (photo)",
        range=INPUT_ANGLE_RANGE,
        what="angles in degrees",
        aliases=("--input_roll",),
    )
    preprocess: str = option(
        "full",
        "photo: what is animated and written (SadTalker's --preprocess): full = the whole image at its "
        "own size; crop = a square around the face scaled to 512 pixels; resize = the whole image "
        "scaled to 512 pixels on its longer side",
        choices=PREPROCESS,
        label="Photo framing",
    )
    ref_pose: Path | None = option(
        None,
        "photo: copy the head motion of this video (relative to its first frame) instead of generating it",
        web=False,
        aliases=("--ref_pose",),
    )
    ref_eyeblink: Path | None = option(
        None,
        "photo: copy the blinks of this video instead of generating them",
        web=False,
        aliases=("--ref_eyeblink",),
    )
    voice: str = option(
        "auto",
        "voice of text input: auto = the Piper neural voice for English, espeak-ng for other languages; "
        "piper = the neural voice (English only); espeak = espeak-ng (robotic, every language)",
        choices=VOICES,
        label="Voice of the text",
    )
    preset: str = option(
        VIDEO_PRESET,
        f"x264 preset (default {VIDEO_PRESET}): slower presets make smaller files at the same quality",
        choices=PRESETS,
        web=False,
    )

    def check(self) -> None:
        if self.still and self.ref_pose is not None:
            raise OptionError("ref_pose", "ref_pose moves the head: it cannot be combined with still")
        if self.no_blink and self.ref_eyeblink is not None:
            raise OptionError(
                "ref_eyeblink", "ref_eyeblink gives blinks: it cannot be combined with no_blink"
            )
        if self.box is not None:
            top, bottom, left, right = self.box
            if min(self.box) < 0 or top >= bottom or left >= right:
                raise OptionError(
                    "box", f"box must have 0 <= top < bottom and 0 <= left < right (pixels), got {self.box!r}"
                )


def parse_text(field: OptionField, text: str) -> Any:
    """An option's value from a web form's text (``"0,10,0,0"`` for pixels, ``"-5,5,0"`` for
    numbers, ``"true"`` for a flag), checked as :func:`check_value` does.

    Raises:
        OptionError: not a value of this option.
    """
    text = text.strip()
    kind, name = field.kind, field.name
    try:
        if kind == "bool":
            word = text.lower()
            if word not in ("1", "true", "yes", "on", "0", "false", "no", "off", ""):
                raise OptionError(name, f"{name}: expected true or false, got {text!r}")
            value: Any = word in ("1", "true", "yes", "on")
        elif kind == "int":
            value = int(text)
        elif kind == "float":
            value = float(text)
        elif kind == "pixels":
            parts = [p for p in text.replace(" ", ",").split(",") if p]
            if len(parts) != 4:
                raise OptionError(name, f"{name}: give 4 integers: top,bottom,left,right (pixels)")
            value = tuple(int(p) for p in parts)
        elif kind == "numbers":
            value = tuple(float(p) for p in text.replace(" ", ",").split(",") if p)
        else:
            value = text
    except ValueError:
        raise OptionError(name, f"{name}: {text!r} is not a number") from None
    return check_value(field, value)


def options_by_name(
    classes: list[type[Options]], web: bool = False
) -> dict[str, list[tuple[str, OptionField]]]:
    """The options of several options classes, by name: for each name, ``(engine, field)`` of every
    class that has it (``engine`` is ``""`` for a class that is not an engine's), in declaration
    order. An option that several engines share (``pads``) is one entry; its fields may differ in
    help and default. With ``web``, only the options clients may set."""
    merged: dict[str, list[tuple[str, OptionField]]] = {}
    for cls in classes:
        for f in option_fields(cls):
            if f.spec.web or not web:
                merged.setdefault(f.name, []).append((getattr(cls, "engine", ""), f))
    return merged


def build_options(cls: type[Options], values: dict[str, Any]) -> Options:
    """``cls(**values)``, with an unknown name reported as :class:`OptionError`."""
    known = {f.name for f in option_fields(cls)}
    for name in values:
        if name not in known:
            engine = getattr(cls, "engine", "")
            owner = f"the {engine} engine" if engine else cls.__name__
            raise OptionError(
                name, f"{name} is not an option of {owner} (its options: {', '.join(sorted(known))})"
            )
    return cls(**values)
