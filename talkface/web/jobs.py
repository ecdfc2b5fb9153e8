"""Render jobs: a bounded queue, a pool of worker threads each driving one render process, expiry.

Each job runs :func:`talkface.sync` in a fresh process (``spawn``): a crash or a leak in a native
library (mediapipe, FFmpeg) ends that job only, and ``sync``'s process-wide settings (OpenCV's
thread count, the silenced stderr) never meet another job's. The process reports progress through a
pipe. All files of a job live in its own folder under the server's private directory (mode 0700)
and are deleted when the job expires, :attr:`~talkface.web.config.ServeConfig.ttl` seconds after it
finished.
"""

from __future__ import annotations

import logging
import multiprocessing
import queue
import shutil
import signal
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("talkface.serve")

STATES = ("queued", "running", "done", "failed", "expired")
PROGRESS_EVERY = 0.25  # seconds between progress messages from a render process
RESULT_NAME = "result.mp4"
PARTIAL_GLOB = ".talkface-*"  # the writer's temporary files (talkface.media.video.VideoWriter)
STOP_GRACE = 10.0  # seconds a render process has to clean up after SIGTERM before it is killed


class QueueFull(Exception):
    """The queue holds ``max_queue`` jobs already."""


@dataclass
class Job:
    """One render job.

    Attributes:
        id: 32 hex digits (random).
        folder: the job's private folder (uploads and result).
        options: keyword arguments of :func:`talkface.sync` (paths inside ``folder``).
        labels: file path -> the upload's field name, to name files in errors without server paths.
        state: one of :data:`STATES`.
        progress: fraction of output frames written, 0-1.
        error: one-line message when ``state == "failed"``.
        summary: frames, faces, speech and wall seconds, real-time factor, when done.
        created, started, finished: ``time.time()`` seconds, or ``None``.
    """

    id: str
    folder: Path
    options: dict[str, Any] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    state: str = "queued"
    progress: float = 0.0
    error: str | None = None
    summary: dict[str, float] | None = None
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None

    @property
    def result(self) -> Path:
        """Where the MP4 is (complete only when ``state == "done"``)."""
        return self.folder / RESULT_NAME


class JobManager:
    """A bounded queue of :class:`Job` served by ``workers`` threads, each running one render process.

    Args:
        root: private directory for job folders (created by the caller, mode 0700).
        workers: jobs rendered at once.
        max_queue: jobs waiting; :meth:`submit` raises :class:`QueueFull` beyond.
        ttl: seconds after finishing until a job's files are deleted and it reads ``expired``;
            an expired job is forgotten after another ``ttl``.
        timeout: seconds a render may run; then its process is stopped (SIGTERM, then SIGKILL after
            :data:`STOP_GRACE` s) and the job fails saying so.
        render: the body of a render process (:func:`render_job`; tests pass another).
    """

    def __init__(
        self,
        root: Path,
        workers: int = 2,
        max_queue: int = 64,
        ttl: float = 3600.0,
        timeout: float = 1800.0,
        render=None,
    ) -> None:
        self.root = Path(root)
        self.ttl = float(ttl)
        self.timeout = float(timeout)
        self._render = render or render_job
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._queue: queue.Queue[Job | None] = queue.Queue(maxsize=max_queue)
        self._procs: dict[str, multiprocessing.process.BaseProcess] = {}
        self._closing = threading.Event()
        self._context = multiprocessing.get_context("spawn")
        self._threads = [
            threading.Thread(target=self._work, name=f"talkface-worker-{i}", daemon=True)
            for i in range(max(1, workers))
        ]
        self._threads.append(threading.Thread(target=self._sweeper, name="talkface-expiry", daemon=True))
        for t in self._threads:
            t.start()

    # -- the public side ------------------------------------------------------------------------
    def new_folder(self) -> tuple[str, Path]:
        """A fresh job id and its (empty, private) folder, to receive the uploads before :meth:`submit`."""
        job_id = uuid.uuid4().hex
        folder = self.root / job_id
        folder.mkdir(mode=0o700)
        return job_id, folder

    def submit(self, job_id: str, folder: Path, options: dict[str, Any], labels: dict[str, str]) -> Job:
        """Queue a render of ``options`` (keyword arguments of :func:`talkface.sync`, no ``out``).

        Raises:
            QueueFull: the queue is full (the folder is then deleted).
        """
        job = Job(job_id, folder, options, labels)
        with self._lock:
            self._jobs[job_id] = job
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                del self._jobs[job_id]
                shutil.rmtree(folder, ignore_errors=True)
                raise QueueFull from None
        log.info("job %s queued", job_id)
        return job

    def get(self, job_id: str) -> Job | None:
        """The job called ``job_id``, or ``None`` (never existed, or forgotten after expiry)."""
        with self._lock:
            return self._jobs.get(job_id)

    def status(self, job: Job) -> dict[str, Any]:
        """The job as JSON-ready data: id, state, progress, error, queue position, summary, times."""
        with self._lock:
            ahead = None
            if job.state == "queued":
                ahead = sum(1 for j in self._jobs.values() if j.state == "queued" and j.created < job.created)
            return {
                "id": job.id,
                "state": job.state,
                "progress": round(job.progress, 4),
                "error": job.error,
                "queue_position": ahead,
                "summary": job.summary,
                "created": job.created,
                "started": job.started,
                "finished": job.finished,
                "expires": None if job.finished is None else job.finished + self.ttl,
            }

    def close(self) -> None:
        """Stop the workers, end running render processes, delete every job folder."""
        self._closing.set()
        with self._lock:
            for proc in self._procs.values():
                proc.terminate()
        while True:  # empty the queue so that every worker sees its stop signal
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                break
        for t in self._threads:
            t.join(timeout=5)
        shutil.rmtree(self.root, ignore_errors=True)

    def sweep(self, now: float | None = None) -> None:
        """Expire finished jobs older than ``ttl`` (files deleted) and forget long-expired ones."""
        now = time.time() if now is None else now
        with self._lock:
            for job_id, job in list(self._jobs.items()):
                if job.state in ("done", "failed") and job.finished + self.ttl <= now:
                    job.state = "expired"
                    shutil.rmtree(job.folder, ignore_errors=True)
                    log.info("job %s expired", job_id)
                elif job.state == "expired" and job.finished + 2 * self.ttl <= now:
                    del self._jobs[job_id]

    # -- the workers ----------------------------------------------------------------------------
    def _sweeper(self) -> None:
        while not self._closing.wait(min(30.0, max(self.ttl / 4, 0.1))):
            self.sweep()

    def _work(self) -> None:
        while not self._closing.is_set():
            job = self._queue.get()
            if job is None or self._closing.is_set():
                return
            try:
                self._run(job)
            except Exception:  # noqa: BLE001 - a worker must outlive any one job
                log.exception("job %s: worker error", job.id)
                self._finish(job, "failed", error="internal error while rendering")

    def _run(self, job: Job) -> None:
        with self._lock:
            job.state, job.started = "running", time.time()
        receive, send = self._context.Pipe(duplex=False)
        proc = self._context.Process(
            target=self._render,
            args=(job.options, str(job.result), job.labels, send),
            name=f"talkface-job-{job.id[:8]}",
            daemon=True,
        )
        with self._lock:
            self._procs[job.id] = proc
        proc.start()
        send.close()
        outcome: tuple | None = None
        deadline = time.monotonic() + self.timeout
        timed_out = False
        try:
            while True:
                if not receive.poll(max(0.0, deadline - time.monotonic())):
                    timed_out = True
                    break
                try:
                    message = receive.recv()
                except EOFError:
                    break
                if message[0] == "progress":
                    job.progress = message[1]
                else:
                    outcome = message
        finally:
            if timed_out:
                _stop(proc)  # before the pipe closes: the render's last word must not meet a closed pipe
            receive.close()
            proc.join()
            with self._lock:
                self._procs.pop(job.id, None)
        if timed_out:
            self._finish(job, "failed", error=f"the render took longer than the limit of {self.timeout:g} s")
        elif outcome is not None and outcome[0] == "done" and job.result.is_file():
            self._finish(job, "done", summary=outcome[1])
        elif outcome is not None and outcome[0] == "error":
            self._finish(job, "failed", error=outcome[1])
        else:
            stopped = f"the render process stopped unexpectedly (exit code {proc.exitcode})"
            self._finish(job, "failed", error=stopped)

    def _finish(self, job: Job, state: str, error: str | None = None, summary: dict | None = None) -> None:
        if state == "failed":  # nothing half-written stays behind (a killed render leaves its file)
            job.result.unlink(missing_ok=True)
            for partial in job.folder.glob(PARTIAL_GLOB):
                partial.unlink(missing_ok=True)
        with self._lock:
            job.state, job.error, job.summary, job.finished = state, error, summary, time.time()
            if state == "done":
                job.progress = 1.0
        log.info("job %s %s%s", job.id, state, f": {error}" if error else "")


def _stop(proc: multiprocessing.process.BaseProcess) -> None:
    """SIGTERM (the render removes its temporary file and exits), SIGKILL if it has not after
    :data:`STOP_GRACE` seconds."""
    proc.terminate()
    proc.join(STOP_GRACE)
    if proc.is_alive():
        proc.kill()


def render_job(options: dict[str, Any], out: str, labels: dict[str, str], conn) -> None:
    """Body of a render process: run :func:`talkface.sync` and report through ``conn``.

    Sends ``("progress", fraction)`` at most every :data:`PROGRESS_EVERY` seconds, then
    ``("done", summary)`` or ``("error", message)``. Messages name uploads by their field
    (``face: no face found in any frame``), never by a server path.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the server, which ends its jobs itself
    from talkface.errors import TalkfaceError, Terminated, install_signal_handlers

    install_signal_handlers(sigint=False)  # SIGTERM (time limit, shutdown): clean up, then exit
    from talkface.pipeline import sync

    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY:
            last[0] = now
            conn.send(("progress", done / max(total, 1)))

    try:
        result = sync(out=out, quiet=True, progress=progress, **options)
        conn.send(
            (
                "done",
                {
                    "frames": result.frames,
                    "faces": result.faces,
                    "speech_seconds": round(result.speech_seconds, 3),
                    "wall_seconds": round(result.wall_seconds, 3),
                    "rtf": round(result.rtf, 3),
                },
            )
        )
    except Terminated:
        conn.send(("error", "the render was stopped"))
    except TalkfaceError as exc:
        label = labels.get(exc.path or "", "")
        conn.send(("error", f"{label}: {exc.problem}" if label else exc.problem))
    except Exception as exc:  # noqa: BLE001 - reported as a job error, logged with its traceback
        logging.getLogger("talkface.serve").exception("render failed")
        conn.send(("error", f"internal error while rendering ({type(exc).__name__})"))
    finally:
        conn.close()
