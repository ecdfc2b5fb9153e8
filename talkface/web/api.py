"""The HTTP API: ``POST /v1/jobs``, ``GET /v1/jobs/{id}``, ``GET /v1/jobs/{id}/result``.

Errors are JSON ``{"error": "<one line>"}`` with a 4xx status (see :mod:`talkface.web.uploads`);
an unexpected failure is a 500 with ``{"error": "internal server error"}`` and its traceback goes to
the server log only.

Example::

    curl -F face=@portrait.jpg -F audio=@speech.wav http://127.0.0.1:7860/v1/jobs
    {"id": "3f2a...", "state": "queued", ...}
    curl http://127.0.0.1:7860/v1/jobs/3f2a...            # state, progress, error
    curl -o out.mp4 http://127.0.0.1:7860/v1/jobs/3f2a.../result
"""

from __future__ import annotations

import logging
import re

from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from talkface.engines.registry import DEFAULT_ENGINE, ENGINES
from talkface.options import OptionField, SyncOptions, options_by_name
from talkface.web.config import ServeConfig
from talkface.web.jobs import Job, JobManager
from talkface.web.uploads import RequestError, available_engines, option_field_names, prepare_job, web_options

log = logging.getLogger("talkface.serve")

JOB_ID = re.compile(r"[0-9a-f]{32}")
FORM_OVERHEAD = 1_000_000  # bytes of multipart framing and text fields allowed beyond the files
_JSON_TYPES = {
    "bool": "boolean",
    "int": "integer",
    "float": "number",
    "choice": "string",
    "pixels": "string",
    "numbers": "string",
}
OPENAPI_URL = "/v1/openapi.json"
DOCS_ASSETS = "/v1/docs/assets"  # Swagger UI's files, from the swagger-ui-bundle wheel (no CDN)


def _option_schema(f: OptionField, engines: list[str]) -> dict:
    """OpenAPI property of one option (``engines``: those that have it, empty for the pipeline's)."""
    prop: dict = {"type": _JSON_TYPES[f.kind], "description": f.spec.help}
    if engines:
        prop["description"] = f"{', '.join(engines)} engine{'s' if len(engines) > 1 else ''}: {f.spec.help}"
    if f.kind == "pixels":
        prop["description"] += " (top,bottom,left,right)"
    if f.kind == "numbers":
        prop["description"] += " (numbers separated by commas)"
        if f.spec.range is not None:
            prop["description"] += f", each from {f.spec.range[0]:g} to {f.spec.range[1]:g}"
    if f.default is not None and f.kind not in ("pixels", "numbers"):
        prop["default"] = f.default
    if f.spec.choices:
        prop["enum"] = list(f.spec.choices)
    if f.spec.range is not None and f.kind in ("int", "float"):
        prop["minimum"], prop["maximum"] = f.spec.range
    return prop


def _form_schema(config: ServeConfig) -> dict:
    """OpenAPI description of the job form (parsed by hand, so FastAPI cannot infer it), derived from
    the options classes of the pipeline and of the engines this server offers."""
    text = {"type": "string"}
    offered = available_engines(config)
    properties = {
        "face": {"type": "string", "format": "binary", "description": "photo or video of the face"},
        "audio": {
            "type": "string",
            "format": "binary",
            "description": "speech: any audio, or a video's sound",
        },
        "text": {
            **text,
            "description": f"speech as text, spoken by the voice option (at most {config.max_text_chars} "
            "chars)",
        },
        "lang": {
            **text,
            "default": "en",
            "description": "language of text: en, zh, de, ... (espeak-ng voice)",
        },
        "engine": {
            **text,
            "enum": offered,
            "default": DEFAULT_ENGINE,
            "description": "; ".join(f"{n} = {ENGINES[n].summary}" for n in offered),
        },
    }
    for f in web_options(SyncOptions):
        properties[f.name] = _option_schema(f, [])
    shared = options_by_name([ENGINES[name].options for name in offered], web=True)
    for name, entries in shared.items():
        properties[name] = _option_schema(entries[0][1], [engine for engine, _ in entries])
    schema = {"type": "object", "required": ["face"], "properties": properties}
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": schema}}}}


def api_router(manager: JobManager, config: ServeConfig) -> APIRouter:
    """The ``/v1`` routes, serving ``manager``'s jobs under ``config``'s limits."""
    router = APIRouter(prefix="/v1")

    @router.post("/jobs", status_code=202, openapi_extra=_form_schema(config))
    async def create_job(request: Request) -> JSONResponse:
        """Multipart form: ``face`` (file), ``audio`` (file) or ``text`` + ``lang``, options."""
        length = request.headers.get("content-length")
        if length is None:
            raise RequestError(411, "send the upload with a Content-Length header")
        if not length.isdigit():
            raise RequestError(400, "bad Content-Length header")
        if int(length) > 2 * config.max_upload_bytes + FORM_OVERHEAD:
            raise RequestError(413, f"request too large (limit {config.max_upload_mb:g} MB per file)")
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise RequestError(415, "send a multipart/form-data form (face, audio or text, options)")
        options = option_field_names()
        fields = ("face", "audio", "text", *options)
        async with request.form(max_files=2, max_fields=len(fields)) as form:
            unknown = sorted(set(form.keys()) - set(fields))
            if unknown:
                raise RequestError(422, f"unknown field {unknown[0]!r} (fields: {', '.join(fields)})")
            face, audio = form.get("face"), form.get("audio")
            for name, value in (("face", face), ("audio", audio)):
                if value is not None and not isinstance(value, UploadFile):
                    raise RequestError(422, f"{name}: must be a file upload")
            text = form.get("text")
            if isinstance(text, UploadFile):
                raise RequestError(422, "text: must be a form field, not a file")
            values = {k: str(form[k]) for k in options if k in form}
            job = await run_in_threadpool(
                prepare_job,
                manager,
                config,
                None if face is None else (face.filename, face.file),
                None if audio is None else (audio.filename, audio.file),
                text,
                values,
            )
        return JSONResponse(_links(manager.status(job)), status_code=202)

    @router.get("/jobs/{job_id}")
    def job_status(job_id: str) -> JSONResponse:
        """State (queued, running, done, failed, expired), progress 0-1, error, queue position."""
        return JSONResponse(_links(manager.status(_job(manager, job_id))))

    @router.get("/jobs/{job_id}/result")
    def job_result(job_id: str) -> FileResponse:
        """The MP4 of a finished job; 409 while queued or running or when failed, 410 once expired."""
        job = _job(manager, job_id)
        if job.state == "expired":
            raise RequestError(410, "the job's result has expired")
        if job.state == "failed":
            raise RequestError(409, f"the job failed: {job.error}")
        if job.state != "done" or not job.result.is_file():
            raise RequestError(409, f"the job is {job.state}; its result is not ready")
        return FileResponse(job.result, media_type="video/mp4", filename=f"talkface-{job.id[:8]}.mp4")

    @router.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """Swagger UI for the API, its scripts and styles served from this server (works offline)."""
        return get_swagger_ui_html(
            openapi_url=OPENAPI_URL,
            title="talkface API",
            swagger_js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS}/favicon-32x32.png",
        )

    @router.api_route(
        "/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False
    )
    def not_found(rest: str) -> None:
        """Anything else under ``/v1``: a JSON 404 (not the page's HTML one)."""
        raise RequestError(404, "no such endpoint (see /v1/docs)")

    return router


def _job(manager: JobManager, job_id: str) -> Job:
    job = manager.get(job_id) if JOB_ID.fullmatch(job_id) else None
    if job is None:
        raise RequestError(404, "no such job (wrong id, or expired and forgotten)")
    return job


def _links(status: dict) -> dict:
    status["status_url"] = f"/v1/jobs/{status['id']}"
    status["result_url"] = f"/v1/jobs/{status['id']}/result"
    return status


def mount_docs_assets(app: FastAPI) -> None:
    """Serve Swagger UI's scripts and styles under :data:`DOCS_ASSETS` (before the ``/v1`` routes,
    whose catch-all would answer 404)."""
    from swagger_ui_bundle import swagger_ui_path

    app.mount(DOCS_ASSETS, StaticFiles(directory=str(swagger_ui_path)), name="docs-assets")


def install_error_handlers(app: FastAPI) -> None:
    """Make every error of ``app``'s own routes a JSON ``{"error": message}``, never a traceback."""

    @app.exception_handler(RequestError)
    async def request_error(_: Request, exc: RequestError) -> JSONResponse:
        return JSONResponse({"error": exc.message}, status_code=exc.status, headers=exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail)}, status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def validation_error(_: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"{where}: {first.get('msg', 'invalid request')}"}, status_code=422)

    @app.exception_handler(Exception)
    async def internal_error(request: Request, exc: Exception) -> JSONResponse:
        log.error("%s %s failed", request.method, request.url.path, exc_info=exc)
        return JSONResponse({"error": "internal server error"}, status_code=500)
