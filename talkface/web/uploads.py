"""Checking what a client sends: file names, sizes, content, durations and render options.

Every problem becomes a :class:`RequestError` with an HTTP status and a one-line message that names
the form field (``face``, ``audio``, ``text``, an option), never a server path:

- 400: a file name that is a path (``../../etc/passwd``), a malformed option;
- 413: a file larger than ``max_upload_mb``;
- 415: not an image, video or audio file (judged by content, :func:`talkface.media.probe.probe_media`);
- 422: an empty file, a face without a picture, speech without sound, too long, unknown option value.
"""

from __future__ import annotations

import shutil
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Any, BinaryIO

from talkface.engines import EngineSpec
from talkface.engines.registry import DEFAULT_ENGINE, ENGINES, engine_spec
from talkface.errors import TalkfaceError
from talkface.media.files import EMPTY
from talkface.media.probe import NO_PICTURE_OR_SOUND, MediaInfo, probe_media
from talkface.options import (
    OptionError,
    OptionField,
    SyncOptions,
    build_options,
    option_fields,
    options_by_name,
    parse_text,
)
from talkface.web.config import ServeConfig
from talkface.web.jobs import Job, JobManager, QueueFull

CHUNK = 1 << 20  # bytes copied at a time


def web_options(cls: type) -> list[OptionField]:
    """The options of an options class that a client may set (file paths are the server's)."""
    return [f for f in option_fields(cls) if f.spec.web]


def _engine_fields() -> list[str]:
    """The names of the options clients may set of every registered engine."""
    return list(options_by_name([spec.options for spec in ENGINES.values()], web=True))


def option_field_names() -> tuple[str, ...]:
    """Every form field besides the files and ``text``: ``lang``, ``engine``, the pipeline's
    options and every registered engine's (the registry may grow, so this is computed per call)."""
    return ("lang", "engine", *(f.name for f in web_options(SyncOptions)), *_engine_fields())


def engine_available(spec: EngineSpec, config: ServeConfig) -> bool:
    """Whether the server can offer ``spec``: each of its required file options (weights) is one the
    server was started with (``serve --checkpoint``, ``--hyperlips-checkpoint``)."""
    files = config.engine_files(spec.name)
    return all(f.name in files for f in option_fields(spec.options) if f.spec.required and not f.spec.web)


def available_engines(config: ServeConfig) -> list[str]:
    """The registered engines the server offers, in registry order."""
    return [name for name, spec in ENGINES.items() if engine_available(spec, config)]


class RequestError(Exception):
    """A bad request: ``status`` is the HTTP status, ``message`` one line for the client, ``headers``
    extra response headers (``Retry-After`` with a 429)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def check_filename(field: str, name: str | None) -> None:
    """Refuse a client file name that is, or contains, a path.

    The name is never used to store the file; a name with a directory part, ``..``, a drive or a
    NUL byte is still refused (400), since no honest browser sends one.

    Raises:
        RequestError: 400.
    """
    if not name:
        return
    bad = (
        "\x00" in name
        or PurePosixPath(name).name != name
        or PureWindowsPath(name).name != name
        or name in (".", "..")
    )
    if bad:
        raise RequestError(400, f"{field}: the file name must be a plain name, not a path")


def store_upload(field: str, source: BinaryIO, dest: Path, max_bytes: int) -> int:
    """Copy an upload to ``dest`` (a name chosen by the server), at most ``max_bytes`` bytes.

    Returns:
        The number of bytes stored.

    Raises:
        RequestError: 413 when the upload is larger than ``max_bytes`` (``dest`` is removed).
    """
    size = 0
    with open(dest, "wb") as out:
        while chunk := source.read(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                out.close()
                dest.unlink(missing_ok=True)
                raise RequestError(413, f"{field}: file too large (limit {max_bytes / 1e6:g} MB)")
            out.write(chunk)
    return size


def check_media(field: str, path: Path, role: str, config: ServeConfig) -> MediaInfo:
    """Check a stored upload by its content: ``role`` is ``"face"`` or ``"speech"``.

    Raises:
        RequestError: 422 empty, 415 not media, 422 a face with no picture or speech with no sound,
            422 longer than ``config.max_seconds``.
    """
    try:
        info = probe_media(path)
    except TalkfaceError as exc:
        status = 422 if exc.problem in (EMPTY, NO_PICTURE_OR_SOUND) else 415
        raise RequestError(status, f"{field}: {exc.problem}") from None
    if role == "face" and not info.has_video:
        raise RequestError(422, f"{field}: a face must be a photo or a video, this is {info.kind} only")
    if role == "speech" and not info.has_audio:
        raise RequestError(422, f"{field}: no sound in this {info.kind}")
    if info.duration is not None and info.duration > config.max_seconds:
        raise RequestError(
            422, f"{field}: {info.duration:.1f} s is longer than the limit of {config.max_seconds:g} s"
        )
    return info


def check_text(text: str, lang: str, config: ServeConfig, voice: str = "auto") -> None:
    """Check text to speak, its language and its voice (:data:`~talkface.speech.VOICES`).

    Raises:
        RequestError: 422 for empty or too long text, a language espeak-ng does not know, or the
            Piper voice asked for a language other than English.
    """
    from talkface.speech import choose_voice
    from talkface.speech.tts import check_language

    if not text.strip():
        raise RequestError(422, "text: empty")
    if len(text) > config.max_text_chars:
        raise RequestError(422, f"text: {len(text)} characters, the limit is {config.max_text_chars}")
    try:
        check_language(lang)
    except TalkfaceError as exc:
        raise RequestError(422, f"lang: {exc.problem}") from None
    try:
        choose_voice(voice, lang)
    except TalkfaceError as exc:
        raise RequestError(422, f"voice: {exc.problem}") from None


def parse_options(fields: dict[str, str], config: ServeConfig) -> dict[str, Any]:
    """Render options from form fields (strings) to keyword arguments of :func:`talkface.sync`.

    Fields (all optional): ``engine`` (a registered engine the server offers), the chosen engine's
    options and the pipeline's (:class:`~talkface.options.SyncOptions`) that clients may set, as
    text: numbers, ``true``/``false``, pixels as ``"top,bottom,left,right"``. The engine's file
    options come from the server (``serve --checkpoint``).

    Returns:
        ``{"engine": <engine options object>, <pipeline option>: value, ...}``.

    Raises:
        RequestError: 422 for an unknown engine or one the server lacks weights for, an option of
            another engine, or a value that is malformed or out of range.
    """
    name = (fields.get("engine") or DEFAULT_ENGINE).strip()
    try:
        spec = engine_spec(name)
        if not engine_available(spec, config):
            raise RequestError(422, f"engine: {name} is not available (the server has no weights for it)")
        mine = {f.name: f for f in web_options(spec.options)}
        known = {f.name for f in option_fields(spec.options)}
        values: dict[str, Any] = {k: v for k, v in config.engine_files(name).items() if k in known}
        for other in _engine_fields():
            text = fields.get(other)
            if text and text.strip() and other not in mine:
                raise OptionError(other, f"{other}: not an option of the {name} engine")
        values.update({n: parse_text(f, fields[n]) for n, f in mine.items() if fields.get(n)})
        options: dict[str, Any] = {"engine": build_options(spec.options, values)}
        for f in web_options(SyncOptions):
            if fields.get(f.name):
                options[f.name] = parse_text(f, fields[f.name])
    except OptionError as exc:
        message = str(exc)
        raise RequestError(
            422, message if message.startswith(exc.option) else f"{exc.option}: {message}"
        ) from None
    return options


def prepare_job(
    manager: JobManager,
    config: ServeConfig,
    face: tuple[str | None, BinaryIO] | None,
    audio: tuple[str | None, BinaryIO] | None,
    text: str | None,
    fields: dict[str, str],
) -> Job:
    """Check one request, store its files in a new job folder and queue the job.

    Args:
        manager: the server's :class:`~talkface.web.jobs.JobManager`.
        config: limits.
        face: ``(client file name, readable binary file)`` of the photo or video.
        audio: the same for the speech, or ``None`` when ``text`` is given.
        text: words to speak instead of ``audio``.
        fields: the other form fields: ``lang`` and the options (:func:`option_field_names`).

    Returns:
        The queued :class:`~talkface.web.jobs.Job`.

    Raises:
        RequestError: any check above fails (400/413/415/422), or the queue is full (429).
    """
    if face is None:
        raise RequestError(422, "face: missing (upload a photo or a video)")
    text = text if text and text.strip() else None
    if (audio is None) == (text is None):
        raise RequestError(422, "give speech as exactly one of an audio file or a text")
    check_filename("face", face[0])
    if audio is not None:
        check_filename("audio", audio[0])
    options = parse_options(fields, config)
    lang = (fields.get("lang") or "en").strip()
    if text is not None:
        check_text(text, lang, config, options.get("voice", "auto"))
    job_id, folder = manager.new_folder()
    try:
        face_path = folder / "face"
        store_upload("face", face[1], face_path, config.max_upload_bytes)
        check_media("face", face_path, "face", config)
        labels = {str(face_path): "face"}
        speech: dict[str, Any] = {"text": text, "lang": lang}
        if audio is not None:
            audio_path = folder / "audio"
            store_upload("audio", audio[1], audio_path, config.max_upload_bytes)
            check_media("audio", audio_path, "speech", config)
            labels[str(audio_path)] = "audio"
            speech = {"audio": audio_path}
        return manager.submit(job_id, folder, {"face": face_path, **speech, **options}, labels)
    except QueueFull:
        wait = config.retry_after
        message = f"the queue is full; try again in {wait} s"
        raise RequestError(429, message, {"Retry-After": str(wait)}) from None
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # the request was refused
        raise
