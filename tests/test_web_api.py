"""The HTTP API of `talkface serve` on real portraits and speech: jobs, queueing, limits, clean 4xx errors."""

from __future__ import annotations

import re
import time
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from conftest import data_file, probe

pytest.importorskip("gradio", reason="the web extra is not installed (pip install -e '.[web]')")
from fastapi.testclient import TestClient  # noqa: E402

from talkface.media.audio import SAMPLE_RATE, load_audio  # noqa: E402
from talkface.media.probe import probe_media  # noqa: E402
from talkface.web.config import ServeConfig  # noqa: E402
from talkface.web.server import Server  # noqa: E402

FPS = 25
CONFIG = ServeConfig(workers=2, max_queue=32, ttl=600, max_upload_mb=1.0, max_seconds=12, max_text_chars=200)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    """16 kHz mono 16-bit WAV."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(replace(CONFIG, workdir=tmp_path_factory.mktemp("serve")))
    with TestClient(srv.app) as client:
        yield srv, client
    srv.close()
    assert not srv.root.exists(), "the private directory outlived the server"


@pytest.fixture(scope="module")
def portrait() -> Path:
    return data_file("image/woman_happy_sadtalker.png")


@pytest.fixture(scope="module")
def speech() -> Path:
    return data_file("audio/es_dreamtalk_spanish1.wav")  # 4.5 s, 16 kHz


@pytest.fixture(scope="module")
def one_second(speech, tmp_path_factory) -> Path:
    return write_wav(tmp_path_factory.mktemp("wav") / "one.wav", load_audio(speech)[:SAMPLE_RATE])


def submit(client, face: Path, audio: Path | None = None, **fields) -> dict:
    files = {"face": (face.name, face.read_bytes())}
    if audio is not None:
        files["audio"] = (audio.name, audio.read_bytes())
    response = client.post("/v1/jobs", files=files, data=fields)
    assert response.status_code == 202, response.text
    return response.json()


def wait(client, job_id: str, timeout: float = 300) -> dict:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = client.get(f"/v1/jobs/{job_id}").json()
        if status["state"] not in ("queued", "running"):
            return status
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} still {status['state']} after {timeout} s")


def assert_error(response, status: int, words: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    message = response.json()["error"]
    assert words in message and "Traceback" not in message and "/tmp" not in message, message


def test_a_job_runs_and_its_result_is_the_speech_long_mp4(server, portrait, speech, tmp_path) -> None:
    srv, client = server
    job = submit(client, portrait, speech, motion="learned")
    assert job["state"] in ("queued", "running") and job["result_url"] == f"/v1/jobs/{job['id']}/result"
    # Just submitted: a render process takes over a second to start, so there is no result yet.
    assert_error(client.get(job["result_url"]), 409, "not ready")
    progress = []
    while (status := client.get(job["status_url"]).json())["state"] in ("queued", "running"):
        progress.append(status["progress"])
        time.sleep(0.1)
    assert progress == sorted(progress) and all(0 <= p <= 1 for p in progress), progress
    assert status["state"] == "done", status
    assert status["progress"] == 1 and status["error"] is None
    assert status["summary"]["frames"] == status["summary"]["faces"] == round(4.51 * FPS)
    result = client.get(job["result_url"])
    assert result.status_code == 200 and result.headers["content-type"] == "video/mp4"
    out = tmp_path / "out.mp4"
    out.write_bytes(result.content)
    info = probe(out)
    speech_seconds = len(load_audio(speech)) / SAMPLE_RATE
    assert abs(info["frames"] / info["fps"] - speech_seconds) <= 1 / FPS
    assert (info["width"], info["height"]) == (256, 256)
    assert info["audio_rate"] and abs(info["audio_seconds"] - speech_seconds) < 0.1
    # Everything the job wrote is inside the server's private directory, which only its owner reads.
    assert (srv.root.stat().st_mode & 0o077) == 0
    assert (srv.root / "jobs" / job["id"] / "result.mp4").is_file()
    # The page's file route serves Gradio's cache only, not the job folders (the uploads).
    for name in ("face", "audio", "result.mp4"):
        leak = client.get(f"/gradio_api/file={srv.root / 'jobs' / job['id'] / name}")
        assert leak.status_code in (403, 404), (name, leak.status_code)


def test_twenty_jobs_at_once_are_queued_then_all_finish(server, portrait, one_second) -> None:
    _, client = server
    with ThreadPoolExecutor(20) as pool:
        jobs = list(pool.map(lambda _: submit(client, portrait, one_second, fps="25"), range(20)))
    assert len({j["id"] for j in jobs}) == 20
    statuses = [client.get(j["status_url"]).json() for j in jobs]
    assert {s["state"] for s in statuses} <= {"queued", "running", "done"}
    assert sum(s["state"] == "running" for s in statuses) <= CONFIG.workers
    # A queued job's position counts the queued jobs created before it: at most its rank.
    by_creation = sorted(statuses, key=lambda s: s["created"])
    queued = [(rank, s["queue_position"]) for rank, s in enumerate(by_creation) if s["state"] == "queued"]
    assert all(0 <= position <= rank for rank, position in queued), queued
    assert len(queued) >= 20 - 2 * CONFIG.workers  # no more than the workers can have taken yet
    assert max(position for _, position in queued) >= 10  # most of them really wait
    finished = [wait(client, j["id"]) for j in jobs]
    assert [f["state"] for f in finished] == ["done"] * 20, [f["error"] for f in finished]
    for f in finished:
        assert f["summary"]["frames"] == FPS
        assert client.get(f["result_url"]).content[4:8] == b"ftyp"  # an MP4


def test_a_full_queue_refuses_with_429(portrait, one_second, tmp_path) -> None:
    srv = Server(replace(CONFIG, workers=1, max_queue=2, workdir=tmp_path))
    try:
        with TestClient(srv.app) as client:
            files = {"face": portrait.read_bytes(), "audio": one_second.read_bytes()}
            responses = [client.post("/v1/jobs", files=files) for _ in range(6)]
            codes = [r.status_code for r in responses]
            assert codes[:3] == [202, 202, 202] and 429 in codes[3:], codes  # 1 running + 2 queued
            refused = responses[codes.index(429)]
            assert_error(refused, 429, "queue is full")
            assert refused.headers["retry-after"] == str(CONFIG.retry_after)
    finally:
        srv.close()


def test_bad_uploads_get_a_clean_4xx(server, portrait, one_second, tmp_path) -> None:
    srv, client = server
    before = set(p.name for p in (srv.root / "jobs").iterdir())
    post = client.post
    audio = ("speech.wav", one_second.read_bytes())
    face = ("face.png", portrait.read_bytes())
    # Oversized: 1.2 MB against a 1 MB limit.
    big = ("big.png", portrait.read_bytes() + bytes(1_200_000))
    assert_error(post("/v1/jobs", files={"face": big, "audio": audio}), 413, "face: file too large")
    assert_error(post("/v1/jobs", files={"face": face, "audio": ("a.wav", bytes(1_200_000))}), 413, "audio")
    huge = ("huge.png", bytes(3_500_000))  # refused from its Content-Length, before it is read
    assert_error(post("/v1/jobs", files={"face": huge, "audio": audio}), 413, "request too large")
    # Empty.
    assert_error(
        post("/v1/jobs", files={"face": ("face.png", b""), "audio": audio}), 422, "face: is empty (0 bytes)"
    )
    assert_error(
        post("/v1/jobs", files={"face": face, "audio": ("a.wav", b"")}), 422, "audio: is empty (0 bytes)"
    )
    # Not media, whatever the name says.
    for name, content in [
        ("face.png", b"hello, this is text\n" * 50),
        ("face.mp4", b"<html><body>not a video</body></html>"),
        ("face.jpg", np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes()),
    ]:
        assert_error(
            post("/v1/jobs", files={"face": (name, content), "audio": audio}),
            415,
            "is not a video, image or audio file",
        )
    # A sound where a face belongs, a picture where speech belongs.
    assert_error(post("/v1/jobs", files={"face": audio, "audio": audio}), 422, "face: a face must be")
    assert_error(post("/v1/jobs", files={"face": face, "audio": face}), 422, "audio: no sound")
    # Names that are paths: refused, and nothing is written where they point.
    for name in ("../../etc/passwd", "..\\..\\evil.png", "/tmp/evil.png", "a/../../b.png", ".."):
        response = post("/v1/jobs", files={"face": (name, face[1]), "audio": audio})
        assert_error(response, 400, "plain name, not a path")
    assert not Path("/tmp/evil.png").exists()
    # Too long: 14 s of speech against a 12 s limit.
    long = write_wav(tmp_path / "long.wav", np.tile(load_audio(one_second), 14))
    assert_error(post("/v1/jobs", files={"face": face, "audio": ("l.wav", long.read_bytes())}), 422, "limit")
    # Missing or doubled speech, bad text, bad options, unknown fields, not a form.
    assert_error(post("/v1/jobs", files={"face": face}), 422, "exactly one of")
    assert_error(post("/v1/jobs", files={"face": face, "audio": audio}, data={"text": "hi"}), 422, "exactly")
    assert_error(post("/v1/jobs", files={"audio": audio}), 422, "face: missing")
    assert_error(post("/v1/jobs", files={"face": face}, data={"text": "x" * 201}), 422, "text: 201")
    assert_error(post("/v1/jobs", files={"face": face}, data={"text": "hi", "lang": "xx"}), 422, "lang:")
    refused = post("/v1/jobs", files={"face": face}, data={"text": "hi", "lang": "de", "voice": "piper"})
    assert_error(refused, 422, "voice: the piper voice speaks English only")
    assert_error(post("/v1/jobs", files={"face": face, "audio": audio}, data={"engine": "x"}), 422, "engine")
    assert_error(post("/v1/jobs", files={"face": face, "audio": audio}, data={"fps": "fast"}), 422, "fps")
    assert_error(post("/v1/jobs", files={"face": face, "audio": audio}, data={"pads": "1,2"}), 422, "pads")
    assert_error(post("/v1/jobs", files={"face": face, "audio": audio}, data={"path": "/x"}), 422, "unknown")
    assert_error(post("/v1/jobs", json={"face": "/etc/passwd"}), 415, "multipart")
    # Unknown jobs.
    assert_error(client.get("/v1/jobs/" + "0" * 32), 404, "no such job")
    assert_error(client.get("/v1/jobs/..%2F..%2Fetc%2Fpasswd"), 404, "no such")
    assert_error(client.get("/v1/jobs/" + "0" * 32 + "/result"), 404, "no such job")
    # No refused request left a job folder behind.
    assert set(p.name for p in (srv.root / "jobs").iterdir()) == before


def test_a_face_without_a_face_fails_with_a_message(server, one_second, tmp_path) -> None:
    _, client = server
    grey = tmp_path / "grey.png"
    import cv2

    cv2.imwrite(str(grey), np.full((240, 320, 3), 128, np.uint8))
    job = submit(client, grey, one_second)
    status = wait(client, job["id"])
    assert status["state"] == "failed" and status["error"] == "face: no face found in any frame"
    assert_error(client.get(job["result_url"]), 409, "face: no face found")


def test_results_expire(server, portrait, one_second) -> None:
    srv, client = server
    job = submit(client, portrait, one_second)
    assert wait(client, job["id"])["state"] == "done"
    folder = srv.root / "jobs" / job["id"]
    assert folder.is_dir()
    srv.manager.sweep(now=time.time() + CONFIG.ttl + 1)
    assert client.get(job["status_url"]).json()["state"] == "expired"
    assert_error(client.get(job["result_url"]), 410, "expired")
    assert not folder.exists()
    srv.manager.sweep(now=time.time() + 2 * CONFIG.ttl + 10)
    assert_error(client.get(job["status_url"]), 404, "no such job")


def test_probe_judges_content_not_names(portrait, speech, tmp_path) -> None:
    renamed = tmp_path / "speech.png"
    renamed.write_bytes(speech.read_bytes())
    assert probe_media(renamed).kind == "audio"
    assert probe_media(portrait).kind == "image"
    clip = data_file("video/grid_brbk7n.mpg")
    info = probe_media(clip)
    assert info.kind == "video" and info.has_audio and abs(info.duration - 3.0) < 0.1


def test_a_text_job_speaks_with_espeak(server, portrait) -> None:
    _, client = server
    response = client.post(
        "/v1/jobs",
        files={"face": (portrait.name, portrait.read_bytes())},
        data={"text": "你好，再见。", "lang": "zh"},
    )
    assert response.status_code == 202, response.text
    status = wait(client, response.json()["id"])
    assert status["state"] == "done", status
    assert 0.5 < status["summary"]["speech_seconds"] < 5


def test_serve_refuses_a_taken_port_in_one_line() -> None:
    import socket
    import subprocess
    import sys

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "talkface.cli", "serve", "--port", str(port)],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == f"talkface: cannot listen on 127.0.0.1:{port} (Address already in use)"


def test_the_api_documents_its_job_form(server) -> None:
    _, client = server
    spec = client.get("/v1/openapi.json").json()
    form = spec["paths"]["/v1/jobs"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["face"]
    assert {"face", "audio", "text", "lang", "voice", "engine", "motion", "pads"} <= set(form["properties"])
    page = client.get("/v1/docs")
    assert page.status_code == 200
    # Swagger UI's files come from this server, not a CDN: the page works offline.

    urls = re.findall(r"""(?:src|href)=['"]([^'"]+)['"]|url: ?['"]([^'"]+)['"]""", page.text)
    urls = [a or b for a, b in urls]
    assert len(urls) >= 3 and all(u.startswith("/v1/") for u in urls), urls
    for url in urls:
        assert client.get(url).status_code == 200, url
    script = client.get("/v1/docs/assets/swagger-ui-bundle.js")
    assert "SwaggerUIBundle" in script.text and "javascript" in script.headers["content-type"]


def page_event(client, name: str, data: list) -> str:
    """Call the page's event ``name`` as its own front end does; the server-sent events, as text."""
    response = client.post(f"/gradio_api/call/{name}", json={"data": data})
    assert response.status_code == 200, response.text
    return client.get(f"/gradio_api/call/{name}/{response.json()['event_id']}").text


def test_the_page_reads_only_files_uploaded_to_it(server, portrait, speech, tmp_path) -> None:
    """A client naming a server path as a file gets nothing made from it (preview or render)."""
    srv, client = server
    link = tmp_path / "link.png"
    link.symlink_to(portrait)
    jobs_before = set((srv.root / "jobs").iterdir())
    for path in (portrait, link):  # outside the temp folder, and a link to it
        named = {"path": str(path), "meta": {"_type": "gradio.FileData"}}
        preview = page_event(client, "show_preview", [named, "0,0,0,0", 1])
        assert "event: error" in preview and ".webp" not in preview, preview
        sound = {"path": str(speech), "meta": {"_type": "gradio.FileData"}}
        args = [named, "Audio file or microphone", sound, "", "en", "warp", "learned", 25, "0,0,0,0", 1]
        rendered = page_event(client, "run", [*args, False, False])
        assert "event: error" in rendered and ".mp4" not in rendered, rendered
    assert set((srv.root / "jobs").iterdir()) == jobs_before, "a job was made from a server file"
    # The same portrait uploaded through the page's upload route does preview.
    uploaded = client.post("/gradio_api/upload", files=[("files", ("p.png", portrait.read_bytes()))]).json()
    preview = page_event(
        client, "show_preview", [{"path": uploaded[0], "meta": {"_type": "gradio.FileData"}}, "0,0,0,0", 1]
    )
    assert "event: complete" in preview and ".webp" in preview, preview


def test_a_hung_render_is_stopped_at_the_time_limit(tmp_path, monkeypatch) -> None:
    from hung_render import hung_render

    from talkface.web import jobs

    monkeypatch.setattr(jobs, "STOP_GRACE", 0.5)  # SIGKILL soon after SIGTERM is ignored
    manager = jobs.JobManager(tmp_path, workers=1, max_queue=2, ttl=600, timeout=15, render=hung_render)
    try:
        job_id, folder = manager.new_folder()
        job = manager.submit(job_id, folder, {}, {})
        end = time.monotonic() + 120
        while job.state in ("queued", "running") and time.monotonic() < end:
            time.sleep(0.1)
        assert job.state == "failed" and job.error == "the render took longer than the limit of 15 s", job
        assert job.progress == 0.1  # it had written its partial file
        assert list(folder.iterdir()) == [], "the killed render's partial file stayed"
    finally:
        manager.close()


def test_a_real_render_past_the_time_limit_fails_cleanly(portrait, tmp_path) -> None:
    """A real render stopped by SIGTERM at the limit removes its own temporary MP4."""
    long_speech = data_file("audio/en_librivox_copperfield_06.mp3")  # 104 s: far from done in 6 s
    limits = replace(CONFIG, workers=1, max_upload_mb=10, max_seconds=200, job_timeout=6, workdir=tmp_path)
    srv = Server(limits)
    try:
        with TestClient(srv.app) as client:
            job = submit(client, portrait, long_speech)
            folder = srv.root / "jobs" / job["id"]
            status = wait(client, job["id"])
            assert status["state"] == "failed" and "longer than the limit of 6 s" in status["error"], status
            assert sorted(p.name for p in folder.iterdir()) == ["audio", "face"]  # the uploads only
    finally:
        srv.close()
