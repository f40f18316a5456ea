"""The Live tab's delay as a viewer sees it: `s2v web` on 127.0.0.1, headless Chromium with a fake microphone.

The page measures each frame's delay itself (from the speech reaching the page to the frame on screen,
`window.liveStats`), so this only drives it: choose the face, press the microphone, wait, read.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

import numpy as np


def chromium_missing():
    """Why the page cannot be measured here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright is not installed (the test extra: `make install`)"
    return None if shutil.which("chromium") else "no chromium on PATH (`make install` installs it with apt-get)"


def _serve(model, work):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "keras_s2v", "web", "--model", model, "--port", str(port), "--workdir", work]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            raise RuntimeError(f"`s2v web --model {model}` did not come up")
        try:
            urllib.request.urlopen(url + "/live", timeout=1).close()
            return url, process
        except OSError:
            time.sleep(0.5)


def _stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def page_delays(model, face, microphone_wav, seconds, work):
    """(frames/s shown after the first second, delays in ms of every frame) of `seconds` of the Live tab
    with `face`, the microphone playing `microphone_wav`, served with `model`."""
    from playwright.sync_api import sync_playwright

    os.makedirs(work, exist_ok=True)
    url, server = _serve(model, work)
    arguments = [
        "--use-fake-ui-for-media-stream",
        "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone_wav}",
        "--autoplay-policy=no-user-gesture-required",
    ]
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=shutil.which("chromium"), headless=True, args=arguments)
            page = browser.new_page()
            page.goto(url + "/live")
            page.set_input_files("#face", face)
            page.click("#mic")
            page.wait_for_function("window.liveStats.frames >= 25", timeout=120_000)
            time.sleep(seconds)
            stats = page.evaluate("window.liveStats")
            page.click("#mic")
            browser.close()
    finally:
        _stop(server)
    shown = np.asarray(stats["shown"][25:])  # the first second waits for the first windows, then comes in a burst
    return (len(shown) - 1) / (shown[-1] - shown[0]) * 1000, np.asarray(stats["delays"], np.float64)
