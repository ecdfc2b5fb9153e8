"""End to end: `talkface serve` driven in headless Chromium, as a user would, with the internet cut off.

Needs Debian's ``chromium`` and ``chromium-driver`` (``make test`` installs them) and the web extra.
A screenshot of the page with its result is saved in the test's temporary folder; ``make screenshot``
sets ``TALKFACE_SCREENSHOT=docs/serve.png`` to renew the picture the README shows (tests never write
tracked files on their own).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from conftest import REPO, data_file, probe

pytest.importorskip("gradio", reason="the web extra is not installed (pip install -e '.[web]')")
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (the dev extra)")
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

from talkface.media.audio import SAMPLE_RATE, load_audio  # noqa: E402

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
SCREENSHOT = os.environ.get("TALKFACE_SCREENSHOT")  # where to copy the page's screenshot, if anywhere
FPS = 25
# As the machine notes advise: no background traffic, and every host but this one unresolvable.
CHROMIUM_FLAGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1400,1400",
    "--autoplay-policy=no-user-gesture-required",
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1",
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def chromium(*extra_flags: str) -> Iterator:
    """Headless Debian Chromium through ChromeDriver (skips the test when either is missing)."""
    if not (Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file()):
        pytest.skip(
            f"{CHROMIUM} / {CHROMEDRIVER} missing: apt-get install chromium chromium-driver (make test does)"
        )
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (*CHROMIUM_FLAGS, *extra_flags):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=webdriver.ChromeService(CHROMEDRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@contextlib.contextmanager
def running_server(folder: Path) -> Iterator[str]:
    """``talkface serve`` in a subprocess (its private directory under ``folder``); yields its URL.

    On exit it is stopped with SIGTERM, and must have deleted its private directory.
    """
    port = free_port()
    log = folder / "serve.log"
    env = dict(os.environ, TMPDIR=str(folder))
    with open(log, "w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "talkface.cli", "serve", "--port", str(port), "--workers", "1"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 120
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    assert response.status == 200
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"talkface serve did not start:\n{log.read_text()}")
                time.sleep(0.5)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    leftovers = list(folder.glob("talkface-serve-*"))
    assert not leftovers, f"the private directory outlived the server: {leftovers}"


@pytest.fixture(scope="module")
def browser():
    with chromium() as driver:
        yield driver


@pytest.fixture(scope="module")
def server_url(tmp_path_factory):
    with running_server(tmp_path_factory.mktemp("serve")) as url:
        yield url


def test_page_renders_an_uploaded_portrait_speaking_uploaded_speech(browser, server_url, tmp_path) -> None:
    portrait = data_file("image/woman_happy_sadtalker.png")  # 256 x 256
    speech = data_file("audio/es_dreamtalk_spanish1.wav")  # 4.51 s
    wait = WebDriverWait(browser, 180, poll_frequency=0.1)
    browser.get(server_url)
    wait.until(lambda d: d.title == "talkface")

    # Each file input is looked for until it is there: the page redraws its inputs after the first
    # upload, and on a busy machine the second may be missing for a moment.
    def upload(selector: str, path: Path) -> None:
        def sent(d) -> bool:
            try:
                d.find_element(By.CSS_SELECTOR, selector).send_keys(str(path))
            except (NoSuchElementException, StaleElementReferenceException):
                return False
            return True

        wait.until(sent)

    upload("#face input[type=file]", portrait)
    upload("#audio input[type=file]", speech)
    # The preview of the face box and mouth mask appears before anything is rendered.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#preview img[src]"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audio a[download]"))  # upload finished
    browser.find_element(By.ID, "render").click()
    # A progress bar while it renders, then the video.
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result .progress-text, #result .eta-bar"))
    others = browser.find_elements(By.CSS_SELECTOR, "#download .progress-text, #summary .progress-text")
    assert not others, "the progress bar is drawn more than once"
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result video[src]"))
    video = browser.find_element(By.CSS_SELECTOR, "#result video")
    browser.execute_script("arguments[0].muted = true; arguments[0].play();", video)
    wait.until(lambda d: d.execute_script("return arguments[0].currentTime > 1.0", video))
    state = browser.execute_script(
        "const v = arguments[0]; return {duration: v.duration, width: v.videoWidth, height: v.videoHeight,"
        " ready: v.readyState, error: v.error && v.error.code, audio: v.webkitAudioDecodedByteCount}",
        video,
    )
    assert state["error"] is None and state["ready"] >= 2, state
    assert (state["width"], state["height"]) == (256, 256), state
    assert abs(state["duration"] - 4.51) < 0.1, state
    assert state["audio"] > 0, f"no sound decoded: {state}"
    summary = browser.find_element(By.ID, "summary").text
    assert f"{round(4.51 * FPS)} frames, face found in {round(4.51 * FPS)}" in summary, summary
    # The download link gives the same MP4: speech long, with its sound.
    link = browser.find_element(By.CSS_SELECTOR, "#download a[download]").get_attribute("href")
    out = tmp_path / "downloaded.mp4"
    with urllib.request.urlopen(link, timeout=30) as response:
        out.write_bytes(response.read())
    info = probe(out)
    assert abs(info["frames"] / info["fps"] - 4.51) <= 1 / FPS and info["audio_rate"], info
    # Nothing was fetched from anywhere but this server (the page works offline).
    hosts = browser.execute_script(
        "return performance.getEntriesByType('resource').map(e => new URL(e.name).host)"
    )
    assert set(hosts) <= {server_url.split("/")[2]}, set(hosts)
    browser.execute_script("arguments[0].pause(); arguments[0].currentTime = 1.2;", video)
    time.sleep(0.5)
    shot = tmp_path / "serve.png"
    assert browser.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if SCREENSHOT:
        shutil.copyfile(shot, REPO / SCREENSHOT)


def test_a_bundled_example_speaks_typed_text(browser, server_url) -> None:
    wait = WebDriverWait(browser, 180, poll_frequency=0.1)
    browser.get(server_url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#face input[type=file]"))
    # The Mandarin example: the astronaut portrait, speech from text, language zh.
    cell = wait.until(lambda d: d.find_element(By.XPATH, "//td[contains(., '宇航员')]"))
    cell.click()
    text = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#text textarea"))
    wait.until(lambda d: "宇航员" in text.get_attribute("value"))
    hidden = browser.find_elements(By.ID, "audio")
    assert not any(e.is_displayed() for e in hidden)  # text mode hides the audio input
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#preview img[src]"))
    browser.find_element(By.ID, "render").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result video[src]"))
    video = browser.find_element(By.CSS_SELECTOR, "#result video")
    wait.until(lambda d: d.execute_script("return arguments[0].readyState >= 1", video))
    size = browser.execute_script("return [arguments[0].videoWidth, arguments[0].videoHeight]", video)
    assert size == [512, 512]  # scikit-image's astronaut
    assert "frames, face found in" in browser.find_element(By.ID, "summary").text


def toasts_inside(browser) -> list[str]:
    """Texts of the toasts shown, after checking that each lies inside the window. A toast that
    closes while it is read (a stale element: seen on a loaded machine) is not shown any more."""
    from selenium.common.exceptions import StaleElementReferenceException

    width = browser.execute_script("return document.documentElement.clientWidth")
    texts = []
    for toast in browser.find_elements(By.CSS_SELECTOR, ".toast-body"):
        try:
            rect = browser.execute_script("return arguments[0].getBoundingClientRect().toJSON()", toast)
            text = toast.text
        except StaleElementReferenceException:
            continue
        assert 0 <= rect["left"] and rect["right"] <= width, (rect, width)
        texts.append(text)
    return texts


def test_page_details_at_a_laptop_width(browser, server_url, tmp_path) -> None:
    """At 1366 px: toasts inside the window, labels kept after an error, the preview redrawn when pads
    or the resize factor change, and a hint to resize a huge photo."""
    import cv2
    from skimage import data

    coffee, huge = tmp_path / "coffee.png", tmp_path / "huge.jpg"
    cv2.imwrite(str(coffee), data.coffee()[:, :, ::-1])
    cv2.imwrite(str(huge), cv2.resize(data.astronaut()[:, :, ::-1], (3511, 3511)))
    wait = WebDriverWait(browser, 180, poll_frequency=0.1)
    browser.set_window_size(1366, 900)
    try:
        browser.get(server_url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#face input[type=file]"))
        # A photo without a face: a warning at once, and an error after Render; labels stay.
        browser.find_element(By.CSS_SELECTOR, "#face input[type=file]").send_keys(str(coffee))
        wait.until(lambda d: any("no face found" in t for t in toasts_inside(d)))
        browser.find_element(By.CSS_SELECTOR, "#audio input[type=file]").send_keys(
            str(data_file("audio/es_dreamtalk_spanish1.wav"))
        )
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audio a[download]"))
        browser.find_element(By.ID, "render").click()
        wait.until(lambda d: any("no face found in any frame" in t for t in toasts_inside(d)))
        for panel, label in (("result", "Result"), ("download", "Download the MP4")):
            labels = browser.find_elements(By.CSS_SELECTOR, f"#{panel} [data-testid='block-label']")
            assert [e.text for e in labels if e.is_displayed()] == [label], panel
            badges = browser.find_elements(By.CSS_SELECTOR, f"#{panel} .error")
            assert not [b for b in badges if b.is_displayed()], f"an error badge covers the {panel} panel"
        # A real face: the preview is redrawn when the pads or the resize factor change.
        portrait = data_file("image/woman_happy_sadtalker.png")
        browser.find_element(By.CSS_SELECTOR, "#face button[aria-label='Clear']").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#face input[type=file]"))
        browser.find_element(By.CSS_SELECTOR, "#face input[type=file]").send_keys(str(portrait))

        def preview_src(d) -> str:
            found = d.find_elements(By.CSS_SELECTOR, "#preview img[src]")
            return found[0].get_attribute("src") if found else ""

        first = wait.until(preview_src)
        browser.find_element(By.CSS_SELECTOR, "#options").click()  # open the accordion
        pads = wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#warp-pads textarea, #warp-pads input"))
        pads.clear()
        pads.send_keys("0,60,0,0\n")
        second = wait.until(lambda d: preview_src(d) not in ("", first) and preview_src(d))
        factor = browser.find_element(By.CSS_SELECTOR, "#resize_factor input[type=number]")
        factor.clear()
        factor.send_keys("2\n")
        wait.until(lambda d: preview_src(d) not in ("", first, second))
        # A 3511 px photo: a hint to resize it.
        browser.find_element(By.CSS_SELECTOR, "#face button[aria-label='Clear']").click()
        factor.clear()
        factor.send_keys("1\n")
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#face input[type=file]"))
        browser.find_element(By.CSS_SELECTOR, "#face input[type=file]").send_keys(str(huge))
        wait.until(lambda d: any("Resize factor 2 makes it 1755x1755" in t for t in toasts_inside(d)))
    finally:
        browser.set_window_size(1400, 1400)


def envelope(samples: np.ndarray) -> np.ndarray:
    """Loudness per 40 ms frame (25 fps), z-scored."""
    hop = SAMPLE_RATE // FPS
    frames = samples[: len(samples) // hop * hop].reshape(-1, hop)
    rms = np.sqrt((frames**2).mean(1) + 1e-10)
    return (rms - rms.mean()) / (rms.std() + 1e-9)


def test_a_microphone_recording_drives_the_face(tmp_path) -> None:
    """Chromium's fake microphone plays a shared speech file; the page records it and renders it.

    What the browser captured depends on how well a loaded machine keeps up in real time, so the
    test holds talkface to what it does with the recording it got: sound was recorded, and the video
    is as long as that recording and carries it as its speech.
    """
    portrait = data_file("image/woman_happy_sadtalker.png")
    speech = data_file("audio/es_dreamtalk_spanish1.wav")  # 4.51 s
    with (
        running_server(tmp_path) as url,
        chromium(
            "--use-fake-ui-for-media-stream",  # grant the microphone without asking
            "--use-fake-device-for-media-stream",
            f"--use-file-for-fake-audio-capture={speech}%noloop",
        ) as browser,
    ):
        wait = WebDriverWait(browser, 180, poll_frequency=0.1)
        browser.get(url)
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audio button[aria-label='Record audio']"))
        browser.find_element(By.CSS_SELECTOR, "#audio button[aria-label='Record audio']").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audio .record-button")).pop().click()
        stop = wait.until(
            lambda d: [b for b in d.find_elements(By.CSS_SELECTOR, "#audio .stop-button") if b.is_displayed()]
        )
        time.sleep(5.0)
        stop.pop().click()
        link = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#audio a[download]")).pop()
        recorded = tmp_path / "recorded.wav"
        with urllib.request.urlopen(link.get_attribute("href"), timeout=30) as response:
            recorded.write_bytes(response.read())
        browser.find_element(By.CSS_SELECTOR, "#face input[type=file]").send_keys(str(portrait))
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#preview img[src]"))
        browser.find_element(By.ID, "render").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#result video[src]"))
        summary = browser.find_element(By.ID, "summary").text
        result = browser.find_element(By.CSS_SELECTOR, "#download a[download]").get_attribute("href")
        video = tmp_path / "result.mp4"
        with urllib.request.urlopen(result, timeout=30) as response:
            video.write_bytes(response.read())
    voice = load_audio(recorded)
    assert np.sqrt((voice**2).mean()) > 1e-3, "the recording is silent"
    frames = round(len(voice) / SAMPLE_RATE * FPS)
    assert f"{frames} frames, face found in {frames}" in summary, summary
    # The video's sound is the recording (AAC-coded): loudness envelopes agree frame by frame.
    got, want = envelope(load_audio(video)), envelope(voice)
    n = min(len(got), len(want))
    assert abs(len(got) - len(want)) <= 1 and np.corrcoef(got[:n], want[:n])[0, 1] > 0.95
