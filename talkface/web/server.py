"""One FastAPI app: the HTTP API under ``/v1`` and the Gradio page at ``/``."""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path

from talkface.errors import TalkfaceError
from talkface.web.config import ServeConfig

log = logging.getLogger("talkface.serve")


class Server:
    """The app and what it owns: the private directory and the job manager.

    Args:
        config: :class:`~talkface.web.config.ServeConfig`.

    Attributes:
        app: the ASGI app (FastAPI with the page mounted at ``/``).
        manager: the :class:`~talkface.web.jobs.JobManager`.
        root: the private temporary directory (mode 0700): ``jobs/`` (uploads, results),
            ``gradio/`` (the page's uploads and cache), ``examples/``.

    Call :meth:`close` to stop the workers and delete ``root``.
    """

    def __init__(self, config: ServeConfig) -> None:
        # Before gradio is imported: no analytics, no version check, uploads in our private folder.
        os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
        self.config = config
        system_temp = Path(tempfile.gettempdir()).resolve()
        if config.workdir is not None and not Path(config.workdir).resolve().is_relative_to(system_temp):
            raise TalkfaceError(f"the work folder must be inside {system_temp}", config.workdir)
        self.root = Path(tempfile.mkdtemp(prefix="talkface-serve-", dir=config.workdir))  # mode 0700
        # Gradio reads its upload folder from the environment whenever it checks a file: restored
        # by close(), so that another Server in the same process keeps its own.
        self._previous_temp = os.environ.get("GRADIO_TEMP_DIR")
        os.environ["GRADIO_TEMP_DIR"] = str(self.root / "gradio")
        try:
            import gradio as gr
            from fastapi import FastAPI

            from talkface.web.api import OPENAPI_URL, api_router, install_error_handlers, mount_docs_assets
            from talkface.web.jobs import JobManager
            from talkface.web.ui import PAGE_CSS, build_ui, theme

            (self.root / "jobs").mkdir(mode=0o700)
            (self.root / "examples").mkdir(mode=0o700)
            self.manager = JobManager(
                self.root / "jobs",
                workers=config.workers,
                max_queue=config.max_queue,
                ttl=config.ttl,
                timeout=config.job_timeout,
            )
            api = FastAPI(title="talkface", docs_url=None, redoc_url=None, openapi_url=OPENAPI_URL)
            install_error_handlers(api)
            mount_docs_assets(api)
            api.include_router(api_router(self.manager, config))
            page = build_ui(self.manager, config, self.root / "examples")
            self.app = gr.mount_gradio_app(
                api,
                page,
                path="/",
                max_file_size=config.max_upload_bytes,
                # No allowed_paths: the page's file route serves only Gradio's own cache, never the
                # job folders (uploads); results are copied into that cache from the system's temp
                # folder, where the private directory lives.
                footer_links=[],
                theme=theme(),
                css=PAGE_CSS,
            )
            # Gradio only checks where an event's input files lie once the page "has launched",
            # which mount_gradio_app never marks (launch() does): until then a request naming any
            # server path as a file made the page read it. Marked here, inputs must be files that
            # a client uploaded to this server (Gradio's upload folder, GRADIO_TEMP_DIR).
            page.has_launched = True
        except BaseException:
            self._restore_temp()
            shutil.rmtree(self.root, ignore_errors=True)
            raise

    def close(self) -> None:
        """Stop the workers (ending running renders) and delete the private directory."""
        self.manager.close()
        self._restore_temp()
        shutil.rmtree(self.root, ignore_errors=True)

    def _restore_temp(self) -> None:
        if self._previous_temp is None:
            os.environ.pop("GRADIO_TEMP_DIR", None)
        else:
            os.environ["GRADIO_TEMP_DIR"] = self._previous_temp


def serve(config: ServeConfig) -> None:
    """Run the server until interrupted (Ctrl-C), then clean up.

    Raises:
        TalkfaceError: the web extra is not installed, or the port is taken.
    """
    import importlib.util
    import signal
    import socket

    if importlib.util.find_spec("gradio") is None:  # not imported yet: GRADIO_TEMP_DIR is set first
        raise TalkfaceError("talkface serve needs the web extra: pip install 'talkface[web]'")
    import uvicorn

    with socket.socket() as probe:  # a clear error instead of uvicorn's log when the port is taken
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((config.host, config.port))
        except OSError as exc:
            raise TalkfaceError(f"cannot listen on {config.host}:{config.port} ({exc.strerror})") from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    server = Server(config)

    def stop(signum: int, frame) -> None:
        raise SystemExit(0)

    # uvicorn shuts down on SIGTERM, then re-raises it under the handler found before it started:
    # with this one the process ends by SystemExit, so the cleanup below runs.
    signal.signal(signal.SIGTERM, stop)
    try:
        print(f"talkface serve: http://{config.host}:{config.port}/  (HTTP API: /v1/jobs, docs: /v1/docs)")
        uvicorn.run(server.app, host=config.host, port=config.port, log_level="warning")
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.close()
