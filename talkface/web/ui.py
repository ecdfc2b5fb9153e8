"""The Gradio page: face and speech in, a preview of the face box and mouth mask, the video out.

Renders go through the same :class:`~talkface.web.jobs.JobManager` (queue, limits, worker
processes) as the HTTP API. Works offline: the theme uses system fonts, analytics are off.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path

import gradio as gr

from talkface.demo import DEMO_TEXT, DEMO_TEXT_ZH, demo_face
from talkface.engines.registry import DEFAULT_ENGINE, ENGINES
from talkface.errors import TalkfaceError
from talkface.options import OptionError, OptionField, SyncOptions, parse_text
from talkface.web.config import ServeConfig
from talkface.web.jobs import JobManager
from talkface.web.uploads import RequestError, available_engines, prepare_job, web_options

# Language codes offered in the menu (any espeak-ng voice may be typed in).
LANGUAGES = ("en", "zh", "de", "fr", "es", "it", "pt", "ru", "ja", "ko", "hi", "ar")
SPEECH_SOURCES = ("Audio file or microphone", "Text")
POLL = 0.3  # seconds between looks at a running job
FONTS = ("ui-sans-serif", "system-ui", "sans-serif")  # no web fonts: the page must work offline
MONO_FONTS = ("ui-monospace", "Consolas", "monospace")
# Toasts stay inside the window whatever its width or their text (mount the page with css=PAGE_CSS).
PAGE_CSS = ".toast-wrap { max-width: calc(100vw - 2 * var(--size-3)); } .toast-body { max-width: 100%; }"


def theme() -> gr.themes.Base:
    """Gradio's default look with system fonts only (nothing fetched from the internet)."""
    return gr.themes.Default(font=FONTS, font_mono=MONO_FONTS)


def option_widget(f: OptionField, elem_id: str) -> gr.components.Component:
    """The page's input for one option: a checkbox, radio buttons or menu, a slider for a bounded
    number, a text box for pixels (``"top,bottom,left,right"``) or a list of numbers (``"-5,5,0"``)."""
    label = f.spec.label or f.spec.help
    if f.kind == "bool":
        return gr.Checkbox(bool(f.default), label=label, elem_id=elem_id)
    if f.kind == "choice":
        kind = gr.Radio if len(f.spec.choices) <= 4 else gr.Dropdown
        return kind(list(f.spec.choices), value=f.default, label=label, info=f.spec.help, elem_id=elem_id)
    if f.kind == "pixels":
        return gr.Textbox(value=",".join(map(str, f.default)), label=label, elem_id=elem_id)
    if f.kind == "numbers":
        shown = "" if f.default is None else ",".join(f"{v:g}" for v in f.default)
        return gr.Textbox(value=shown, label=label, info=f.spec.help, elem_id=elem_id)
    bounds = f.spec.ui_range or f.spec.range
    default = f.default if f.default is not None else f.spec.ui_default
    if bounds is not None:
        wide = f.kind == "int" or bounds[1] - bounds[0] >= 10
        step = 1 if wide else (bounds[1] - bounds[0]) / 100
        default = bounds[0] if default is None else default
        return gr.Slider(bounds[0], bounds[1], value=default, step=step, label=label, elem_id=elem_id)
    return gr.Number(default, label=label, elem_id=elem_id, precision=0 if f.kind == "int" else None)


def widget_text(f: OptionField, value) -> str:
    """A widget's value as the form text :func:`~talkface.options.parse_text` reads."""
    return str(int(value)) if f.kind == "int" else str(value)


def build_ui(manager: JobManager, config: ServeConfig, examples_dir: Path) -> gr.Blocks:
    """The page. Bundled examples (the astronaut portrait speaking English or Mandarin text) are
    written to ``examples_dir``. The option widgets are made from the options classes: the
    pipeline's, and for each engine the server offers a group shown while it is chosen."""
    astronaut = str(demo_face(examples_dir))
    engines = available_engines(config)

    with gr.Blocks(title="talkface", analytics_enabled=False, delete_cache=(600, int(config.ttl))) as page:
        gr.Markdown(
            "# talkface\nA face (photo or video) and speech (a recording or typed text) become a lip-synced "
            "video, on this computer's CPU. The same jobs are available as an HTTP API: `POST /v1/jobs`."
        )
        with gr.Row():
            with gr.Column():
                face = gr.File(
                    label="Face: a photo or a video", file_types=["image", "video"], elem_id="face"
                )
                preview = gr.Image(
                    label="Found face (green box) and the mouth area that may change (magenta)",
                    interactive=False,
                    elem_id="preview",
                    height=320,
                )
                source = gr.Radio(SPEECH_SOURCES, value=SPEECH_SOURCES[0], label="Speech", elem_id="source")
                audio = gr.Audio(
                    sources=["upload", "microphone"], type="filepath", label="Speech audio", elem_id="audio"
                )
                text = gr.Textbox(label="Text to speak", lines=3, visible=False, elem_id="text")
                lang = gr.Dropdown(
                    list(LANGUAGES),
                    value="en",
                    label="Language of the text",
                    allow_custom_value=True,
                    visible=False,
                    elem_id="lang",
                )
                # (engine or None, option, widget), in the order the widgets are given to run().
                widgets: list[tuple[str | None, OptionField, gr.components.Component]] = []
                with gr.Accordion("Options", open=False, elem_id="options"):
                    engine = gr.Dropdown(
                        engines, value=DEFAULT_ENGINE, label="Engine", info=ENGINES[DEFAULT_ENGINE].summary
                    )
                    groups = []
                    for name in engines:
                        with gr.Group(visible=name == DEFAULT_ENGINE) as group:
                            for f in web_options(ENGINES[name].options):
                                widgets.append((name, f, option_widget(f, f"{name}-{f.name}")))
                        groups.append(group)
                    for f in web_options(SyncOptions):
                        widgets.append((None, f, option_widget(f, f.name)))
                by_id = {(e, f.name): (f, w) for e, f, w in widgets}
                pads_field, pads = by_id[("warp", "pads")]  # the warp ring, drawn by the preview
                resize = by_id[(None, "resize_factor")][1]
                render = gr.Button("Render", variant="primary", elem_id="render")
            with gr.Column():
                result = gr.Video(label="Result", interactive=False, elem_id="result")
                download = gr.File(label="Download the MP4", interactive=False, elem_id="download")
                summary = gr.Markdown(elem_id="summary")
        gr.Examples(
            [
                [astronaut, SPEECH_SOURCES[1], DEMO_TEXT, "en"],
                [astronaut, SPEECH_SOURCES[1], DEMO_TEXT_ZH, "zh"],
            ],
            inputs=[face, source, text, lang],
            label="Bundled examples (the NASA astronaut portrait from scikit-image)",
        )

        def show_source(choice: str):
            typed = choice == SPEECH_SOURCES[1]
            return gr.update(visible=not typed), gr.update(visible=typed), gr.update(visible=typed)

        def show_engine(name: str):
            return [gr.update(info=ENGINES[name].summary)] + [gr.update(visible=n == name) for n in engines]

        def show_preview(path: str | None, pads_text: str, factor: float):
            if not path:
                return None
            from talkface.preview import face_preview, resize_hint

            try:
                pad = parse_text(pads_field, pads_text) if pads_text.strip() else pads_field.default
                image = face_preview(path, pads=pad, resize_factor=int(factor))
                hint = resize_hint(image.shape[1], image.shape[0])
                if hint:
                    gr.Warning(f"face: {hint} (Options)")
                return image
            except OptionError as exc:  # the pads typed
                gr.Warning(exc.problem)
            except TalkfaceError as exc:
                gr.Warning(f"face: {exc.problem}")
            return None

        def not_rendered(message: str):
            # A toast and a line under the result, not gr.Error: its badge would cover the panels'
            # labels until the next render.
            gr.Warning(message, title="Not rendered")
            return None, None, f"**Not rendered:** {message}"

        def run(face_path, choice, audio_path, words, language, engine_name, *values, progress=gr.Progress()):  # noqa: B008
            typed = choice == SPEECH_SOURCES[1]
            fields = {"lang": language or "en", "engine": engine_name}
            for (owner, f, _), value in zip(widgets, values, strict=True):
                if owner in (None, engine_name):  # the chosen engine's options and the pipeline's
                    fields[f.name] = widget_text(f, value)
            if not face_path:
                return not_rendered("Upload a face (photo or video) first.")
            if not typed and not audio_path:
                return not_rendered("Upload or record the speech, or choose Text.")
            try:
                with contextlib.ExitStack() as files:
                    face_file = files.enter_context(open(face_path, "rb"))
                    audio_file = None if typed else files.enter_context(open(audio_path, "rb"))
                    job = prepare_job(
                        manager,
                        config,
                        (None, face_file),
                        None if audio_file is None else (None, audio_file),
                        words if typed else None,
                        fields,
                    )
            except RequestError as exc:
                return not_rendered(exc.message)
            while job.state in ("queued", "running"):
                status = manager.status(job)
                if job.state == "queued":
                    progress(0.0, desc=f"Waiting: {status['queue_position']} job(s) ahead")
                else:
                    progress(job.progress, desc="Rendering")
                time.sleep(POLL)
            if job.state != "done":
                return not_rendered(job.error or f"the job is {job.state}")
            s = job.summary or {}
            line = (
                f"{s.get('frames')} frames, face found in {s.get('faces')}; {s.get('speech_seconds')} s of "
                f"speech in {s.get('wall_seconds')} s (real-time factor {s.get('rtf')})"
            )
            return str(job.result), str(job.result), line

        source.change(show_source, source, [audio, text, lang])
        engine.change(show_engine, engine, [engine, *groups])
        # Redrawn when the face or what the preview shows (pads, resize factor) changes.
        gr.on(
            [face.change, pads.submit, pads.blur, resize.change],
            show_preview,
            [face, pads, resize],
            preview,
            trigger_mode="always_last",  # a slider drag redraws once it stops, not at every step
        )
        render.click(
            run,
            [face, source, audio, text, lang, engine, *(w for _, _, w in widgets)],
            [result, download, summary],
            concurrency_limit=None,  # the job manager's queue is the limit
            show_progress_on=[result],  # one progress bar (and one error badge), on the video
        )
    return page
