"""The Live tab of `s2v web`: a fake microphone fed from a WAV file, frames back over a WebSocket, in headless chromium."""

import shutil

import cv2
import numpy as np
import pytest

from keras_s2v.media.photos import real_photos
from keras_s2v.models import build_speech2vid
from keras_s2v.models.mouth_motion import build_mouth_motion
from keras_s2v.saving import save_model
from tests.helpers import speech_like, write_audio
from tests.web import serving

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the test extra: make install")
CHROMIUM = shutil.which("chromium")


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A photo of a real face, 2 s of speech (16 kHz) and 3 s for the fake microphone (48 kHz), a tiny generator
    and a tiny mouth-motion model."""
    root = tmp_path_factory.mktemp("live_web")
    photo = cv2.resize(real_photos()["grace_hopper"], (160, 192), interpolation=cv2.INTER_AREA)
    cv2.imwrite(str(root / "face.png"), photo[..., ::-1])
    write_audio(root / "speech.wav", speech_like(2.0))
    write_audio(root / "microphone.wav", speech_like(3.0, sr=48000, seed=2), sr=48000)
    (root / "notes.txt").write_text("not a face\n")
    save_model(build_speech2vid("tiny"), str(root / "generator.keras"))
    save_model(build_mouth_motion("tiny"), str(root / "motion.keras"))
    return root


@pytest.fixture(scope="module")
def server(files):
    url, process = serving.start(files / "generator.keras", files / "work")
    try:
        yield url
    finally:
        serving.stop(process)


@pytest.fixture(scope="module")
def browser(files):
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: `make install` installs it with apt-get where apt is available")
    arguments = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={files / 'microphone.wav'}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=arguments)
        yield browser
        browser.close()


def _rate_and_delays(page, skip=25):
    stats = page.evaluate("window.liveStats")
    # After the first second: its frames wait for the first windows, then come in a burst.
    shown = np.asarray(stats["shown"][skip:])
    return (len(shown) - 1) / (shown[-1] - shown[0]) * 1000, np.asarray(stats["delays"]), stats


def test_the_microphone_makes_the_face_speak_at_25_frames_a_second(server, files, browser, capsys):
    page = browser.new_page()
    page.goto(server + "/live")
    page.set_input_files("#face", str(files / "face.png"))
    page.click("#mic")
    page.wait_for_function("window.liveStats.frames >= 100", timeout=60_000)
    assert page.text_content("#state") == "Live" and page.text_content("#mic") == "Stop"
    rate, delays, stats = _rate_and_delays(page)
    page.click("#mic")
    page.wait_for_function("window.liveStats.done !== null", timeout=30_000)
    summary = page.evaluate("window.liveStats.done")
    # 25 a second, give or take the bursts of a step-5 window or of held frames on cores shared with other work.
    assert 20 <= rate <= 32, (rate, summary)
    assert stats["lookahead"] == pytest.approx(0.115)
    shown = page.text_content("#delay")
    assert shown.startswith("delay ") and shown.endswith(" ms)"), shown
    # Never less than the lookahead (115 ms) plus the trip, so the page measures what it should; the bounds above
    # it leave room for cores shared with other work (the target on two idle cores is 350 ms at the 95th percentile),
    # and the delay must not grow over the stream: held frames keep it on time.
    third = len(delays) // 3
    assert np.isfinite(delays).all() and (delays > 100).all() and np.percentile(delays, 95) < 3000, delays
    assert np.median(delays[-third:]) < np.median(delays[:third]) + 1000, delays
    assert page.text_content("#state") == "Stopped." or page.text_content("#state") == "The speech has ended."
    assert "frames, latency p50" in page.text_content("#summary")
    with capsys.disabled():
        print(
            f"\n  live page: {rate:.1f} frames/s, delay p50 {np.median(delays):.0f} ms, p95 {np.percentile(delays, 95):.0f} ms"
            f" over {len(delays)} frames; server: {summary}"
        )
    page.close()


def _play_live(browser, url, files):
    """A page of the Live tab at `url` that has played files/speech.wav onto files/face.png to its end."""
    page = browser.new_page()
    page.goto(url + "/live")
    page.set_input_files("#face", str(files / "face.png"))
    page.set_input_files("#speech", str(files / "speech.wav"))
    page.click("#play")
    page.wait_for_function("window.liveStats.done !== null", timeout=60_000)
    return page


def test_a_speech_file_played_live_gives_a_frame_for_every_25th_of_a_second(server, files, browser):
    page = _play_live(browser, server, files)
    rate, delays, stats = _rate_and_delays(page, skip=10)
    # 2 s of speech; the page may send up to a few render quanta of silence before it hears the end. Over so
    # few frames the rate is only roughly 25: a window at step 5 brings 5 frames at once.
    assert 50 <= stats["frames"] <= 53 and 15 <= rate <= 35, (stats["frames"], rate)
    assert page.text_content("#state") == "The speech has ended."
    page.close()


def test_a_file_that_is_no_face_and_an_unknown_face_are_told_in_one_line(server, files, browser):
    page = browser.new_page()
    page.goto(server + "/live")
    page.set_input_files("#face", str(files / "notes.txt"))
    page.click("#mic")
    page.wait_for_selector("#error:not([hidden])")
    assert page.text_content("#error") == "notes.txt: not a video or image file that can be decoded"
    message = page.evaluate(
        """(url) => new Promise((resolve) => {
        const socket = new WebSocket(url.replace("http", "ws") + "/live/ws?face=nothing");
        socket.onmessage = (event) => resolve(event.data);
    })""",
        server,
    )
    assert message == '{"error": "no such face: upload it again"}'
    page.close()


def test_a_mouth_motion_model_speaks_live_with_the_persons_own_mouth(files, browser):
    url, process = serving.start(files / "motion.keras", files / "work-motion")
    try:
        page = _play_live(browser, url, files)
        stats = page.evaluate("window.liveStats")
        page.close()
    finally:
        serving.stop(process)
    # The lookahead tells the own-pixels path: it waits longer (openings 2 frames early, smoothed a frame ahead).
    assert stats["lookahead"] == pytest.approx(0.315) and 50 <= stats["frames"] <= 53, stats
    assert stats["done"].startswith(f"{stats['frames']} frames, latency p50"), stats["done"]
