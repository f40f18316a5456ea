"""`s2v web` run as a real server on 127.0.0.1, driven by Debian's chromium through Playwright."""

import json
import os
import re
import shutil
import socket
import time

import cv2
import numpy as np
import pytest

from keras_s2v.lab import synth
from keras_s2v.media import video
from keras_s2v.models import build_speech2vid
from keras_s2v.saving import save_model
from keras_s2v.speech import formant
from tests.helpers import s2v, speech_like, write_audio, write_raw_wav
from tests.web import serving

playwright_api = pytest.importorskip("playwright.sync_api", reason="Playwright is in the test extra: make install")
CHROMIUM = shutil.which("chromium")
MAX_UPLOAD_MB = 1
MAX_MINUTES = 0.25  # 15 s: the tests' speech is 12 s at most, but for long.wav


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 1.5 s synthetic face clip, 2 s, 1.2 s and 12 s of speech, a text file, a faceless image, a tiny generator."""
    root = tmp_path_factory.mktemp("web")
    speaker = synth.sample_speaker(0, "test", seed=5)
    synth.write_clip(root / "face.mp4", speaker, formant.random_script(np.random.default_rng(0), 1.5), seed=1)
    write_audio(root / "speech.wav", speech_like(2.0))
    write_audio(root / "short.wav", speech_like(1.2, seed=1))
    write_audio(root / "empty.wav", np.zeros(0, np.float32))
    write_audio(root / "twelve.wav", speech_like(12.0, seed=3))  # a dub that is still running when it is cancelled
    write_audio(root / "long.wav", speech_like(16.0, seed=2))
    write_raw_wav(root / "nan.wav", np.full(16000, np.nan, np.float32))
    write_raw_wav(root / "one.wav", np.zeros(1, np.int16))
    (root / "notes.txt").write_text("not a face\n")
    (root / "zero.png").write_bytes(b"")
    cv2.imwrite(str(root / "wall.png"), np.full((120, 160, 3), 90, np.uint8))
    (root / "big.mp4").write_bytes(os.urandom(int(1.5 * 2**20)))
    save_model(build_speech2vid("tiny"), str(root / "generator.keras"))
    return root


@pytest.fixture(scope="module")
def server(files):
    """`s2v web` on a free port of 127.0.0.1; yields (url, process, work folder)."""
    work = files / "work"
    work.mkdir()
    options = ("--max-upload-mb", MAX_UPLOAD_MB, "--max-minutes", MAX_MINUTES)
    url, process = serving.start(files / "generator.keras", work, *options)
    try:
        yield url, process, work
    finally:
        serving.stop(process)


def _job_folders(work):
    """The job folders and spooled uploads inside the server's one temporary folder."""
    return [name for temp in work.iterdir() for name in os.listdir(temp)]


@pytest.fixture(scope="module")
def playwright():
    with playwright_api.sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="module")
def http(server, playwright):
    context = playwright.request.new_context(base_url=server[0])
    yield context
    context.dispose()


@pytest.fixture(scope="module")
def browser(playwright):
    if CHROMIUM is None:
        pytest.skip("no chromium on PATH: `make install` installs it with apt-get where apt is available")
    # A fake microphone (a beeping tone) that is allowed without asking.
    fake_microphone = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=fake_microphone)
    yield browser
    browser.close()


def _upload(http, files, face, audio):
    def part(name):
        return {"name": name, "mimeType": "application/octet-stream", "buffer": (files / name).read_bytes()}

    return http.post("/jobs", multipart={"face": part(face), "audio": part(audio)})


def _wait_for_job(http, job_id, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = http.get(f"/jobs/{job_id}").json()
        if job["state"] in ("done", "error"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s: {job}")


def test_web_help_a_bad_model_and_a_busy_port():
    result = s2v("web", "--help")
    assert result.returncode == 0 and "127.0.0.1" in result.stdout and "--max-upload-mb" in result.stdout
    for option in ("--max-queued", "--max-minutes", "--max-work-mb"):
        assert option in result.stdout
    port = serving.free_port()
    result = s2v("web", "--model", "missing.keras", "--port", port)
    assert result.returncode == 2
    assert result.stderr.strip() == "s2v: error: missing.keras: no such file or folder"
    with socket.create_server(("127.0.0.1", port)):
        result = s2v("web", "--model", "missing.keras", "--port", port)
    assert result.returncode == 2
    assert result.stderr.strip() == f"s2v: error: cannot listen on 127.0.0.1:{port}: Address already in use"


def test_a_work_folder_that_cannot_be_made_is_one_line(tmp_path):
    (tmp_path / "taken").write_text("a file where the work folder should go\n")
    result = s2v("web", "--model", "missing.keras", "--port", serving.free_port(), "--workdir", tmp_path / "taken")
    assert result.returncode == 2
    assert result.stderr.strip() == f"s2v: error: {tmp_path / 'taken'}: cannot make the work folder here (File exists)"


def test_dub_in_the_browser_plays_a_video_as_long_as_the_speech(server, files, browser, tmp_path_factory, capsys):
    url, _, work = server
    page = browser.new_page(viewport={"width": 1000, "height": 900})
    page.goto(url + "/")
    page.set_input_files("#face", str(files / "face.mp4"))
    page.set_input_files("#audio", str(files / "speech.wav"))
    page.evaluate("""() => {
        window.states = [];
        new MutationObserver(() => window.states.push(document.getElementById("state").textContent))
            .observe(document.getElementById("state"), {childList: true});
    }""")
    page.click("#start")
    page.wait_for_selector("#result:not([hidden])", timeout=90_000)
    states = page.evaluate("window.states")
    # The page polls every 400 ms and the tiny model is fast, so a stage may pass unseen: the states
    # that show must be the page's own, in the order of the stages, with the frames counting up.
    stages = ["Uploading...", "Starting...", "Finding the face and reading the speech...", "Dubbing: frame"]
    ranks = [next((rank for rank, text in enumerate(stages) if state.startswith(text)), None) for state in states]
    frames = [int(m[1]) for m in map(re.compile(r"Dubbing: frame (\d+) of 50").fullmatch, states) if m]
    assert states[0] == "Uploading..." and None not in ranks and ranks == sorted(ranks) and frames == sorted(frames), states

    summary = page.text_content("#summary")
    found = re.fullmatch(r"(\d+) frames, face found in (\d+) .* frames/s with the keras backend", summary)
    assert found and int(found[1]) == 50 and int(found[2]) == 50, summary
    duration = page.evaluate("""async () => {
        const video = document.getElementById("video");
        video.muted = true;
        await video.play();
        await new Promise((resolve) => setTimeout(resolve, 500));
        return {duration: video.duration, time: video.currentTime, width: video.videoWidth, error: video.error};
    }""")
    assert abs(duration["duration"] - 2.0) < 0.1 and duration["time"] > 0.1 and duration["width"] == 256, duration
    assert page.get_attribute("#download", "download") == "dubbed.mp4"

    with page.expect_download() as download:
        page.click("#download")
    saved = tmp_path_factory.mktemp("download") / "dubbed.mp4"
    download.value.save_as(saved)
    info = video.probe(str(saved))
    assert info.has_audio and abs(info.duration - 2.0) < 0.1

    screenshot = tmp_path_factory.mktemp("artefacts") / "s2v_web_finished.png"
    page.screenshot(path=str(screenshot), full_page=True)
    with capsys.disabled():
        print(f"\n  screenshot of the finished page: {screenshot}")
    assert len(_job_folders(work)) == 1  # the result, kept for download
    page.close()


def test_speech_recorded_from_the_microphone(server, files, browser):
    page = browser.new_page()
    page.goto(server[0] + "/")
    page.set_input_files("#face", str(files / "face.mp4"))
    page.click("#record")
    page.wait_for_timeout(1500)
    page.click("#record")
    page.wait_for_function("document.getElementById('recorded').textContent.startsWith('recorded ')")
    page.click("#start")
    page.wait_for_selector("#result:not([hidden])", timeout=90_000)
    duration = page.evaluate("""() => new Promise((resolve) => {
        const video = document.getElementById("video");
        if (video.readyState >= 1) resolve(video.duration); else video.onloadedmetadata = () => resolve(video.duration);
    })""")
    assert 1.2 < duration < 2.5, duration  # about the 1.5 s recorded
    page.close()


def test_a_text_file_as_the_face_shows_the_error_on_the_page(server, files, browser):
    url, _, work = server
    before = _job_folders(work)
    page = browser.new_page()
    page.goto(url + "/")
    page.set_input_files("#face", str(files / "notes.txt"))
    page.set_input_files("#audio", str(files / "speech.wav"))
    page.click("#start")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert page.text_content("#error") == "notes.txt: not a video or image file that can be decoded"
    assert page.is_hidden("#result") and "Traceback" not in page.content()
    assert _job_folders(work) == before
    page.close()


def test_two_users_at_once_both_get_their_video(server, files, http):
    first = _upload(http, files, "face.mp4", "speech.wav")
    second = _upload(http, files, "face.mp4", "short.wav")
    assert first.status == second.status == 202
    first, second = first.json()["id"], second.json()["id"]
    waiting = http.get(f"/jobs/{second}").json()
    assert waiting["state"] == "queued" and waiting["ahead"] == 1, waiting
    for job_id, seconds in ((first, 2.0), (second, 1.2)):
        job = _wait_for_job(http, job_id)
        assert job["state"] == "done" and job["frames_done"] == job["frames_total"] == round(25 * seconds), job
        response = http.get(job["video"])
        assert response.status == 200 and response.headers["content-type"] == "video/mp4"
        path = files / f"{job_id}.mp4"
        path.write_bytes(response.body())
        assert abs(video.probe(str(path)).duration - seconds) < 0.1


@pytest.mark.parametrize(
    "face, audio, status, message",
    [
        ("face.mp4", "empty.wav", 400, "empty.wav: the audio has no samples"),
        ("zero.png", "speech.wav", 400, "zero.png: the file is empty"),
        ("big.mp4", "speech.wav", 413, f"big.mp4: 1.5 MB is over the {MAX_UPLOAD_MB} MB limit"),
        ("notes.txt", "speech.wav", 400, "notes.txt: not a video or image file that can be decoded"),
        ("face.mp4", "notes.txt", 400, "notes.txt: "),
        ("face.mp4", "long.wav", 413, "long.wav: the speech lasts 0:16; this server dubs at most 0:15"),
        ("face.mp4", "nan.wav", 400, "nan.wav: the audio holds 16000 samples that are not finite numbers"),
        ("face.mp4", "one.wav", 400, "one.wav: audio is 0.000 s long; one window needs 0.215 s"),
    ],
)
def test_a_bad_upload_is_refused_with_one_line_and_leaves_no_file(server, files, http, face, audio, status, message):
    before = _job_folders(server[2])
    response = _upload(http, files, face, audio)
    assert response.status == status and response.json()["error"].startswith(message), response.json()
    assert _job_folders(server[2]) == before


def test_a_face_without_a_face_fails_as_a_job_and_leaves_no_file(server, files, http):
    before = _job_folders(server[2])
    response = _upload(http, files, "wall.png", "speech.wav")
    assert response.status == 202
    job = _wait_for_job(http, response.json()["id"])
    assert job["state"] == "error" and job["error"].startswith("wall.png: no face found"), job
    assert _job_folders(server[2]) == before


def test_a_job_is_cancelled_queued_or_running_and_a_result_deleted_with_its_files(server, files, http):
    url, _, work = server
    before = _job_folders(work)
    # 300 frames: a 2 s dub could finish between seeing its first frame and the DELETE that follows.
    first = _upload(http, files, "face.mp4", "twelve.wav").json()["id"]
    second = _upload(http, files, "face.mp4", "short.wav").json()["id"]
    assert http.get(f"/jobs/{second}").json()["state"] == "queued"
    assert http.delete(f"/jobs/{second}").json() == {"state": "cancelled"}  # waiting behind the first
    deadline = time.monotonic() + 60
    while http.get(f"/jobs/{first}").json()["frames_done"] == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert http.delete(f"/jobs/{first}").json() == {"state": "cancelled"}  # stopped at its next frame
    for job_id in (first, second):
        job = http.get(f"/jobs/{job_id}").json()
        assert job["state"] == "cancelled" and job["video"] is None, job
    assert _job_folders(work) == before
    done = _upload(http, files, "face.mp4", "short.wav").json()["id"]
    assert _wait_for_job(http, done)["state"] == "done"
    assert http.delete(f"/jobs/{done}").json() == {"state": "deleted"}
    assert http.get(f"/jobs/{done}/video").status == 404 and _job_folders(work) == before
    assert http.delete("/jobs/nonesuch").status == 404


def test_a_client_that_breaks_off_its_upload_leaves_nothing(server, files):
    url, _, work = server
    before = _job_folders(work)
    body, content_type = serving.multipart({"face": ("face.mp4", os.urandom(900_000)), "audio": ("a.wav", os.urandom(900_000))})
    port = int(url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port)) as client:
        head = f"POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\nContent-Length: {len(body)}\r\n\r\n"
        client.sendall(head.encode() + body[: len(body) * 2 // 3])  # past the 1 MB at which uploads spool to disk
        time.sleep(1.0)
        assert _job_folders(work) != before  # the upload was landing in the work folder
    deadline = time.monotonic() + 10
    while _job_folders(work) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _job_folders(work) == before


def test_the_page_says_busy_when_the_server_answers_429(server, files, browser):
    page = browser.new_page()
    page.route("**/jobs", lambda route: route.fulfill(status=429, headers={"Retry-After": "60"}, json={"error": "busy"}))
    page.goto(server[0] + "/")
    page.set_input_files("#face", str(files / "face.mp4"))
    page.set_input_files("#audio", str(files / "speech.wav"))
    page.click("#start")
    page.wait_for_selector("#error:not([hidden])", timeout=30_000)
    assert page.text_content("#error") == "The server is busy, try again in a minute."
    page.close()


def test_stopping_the_server_removes_its_files(server):
    _, process, work = server
    assert list(work.iterdir())
    serving.stop(process)
    assert process.returncode == 0, process.stdout.read()
    assert list(work.iterdir()) == []


def test_the_job_queue_runs_in_order_cleans_failures_at_once_and_results_after_keep_seconds(tmp_path):
    from keras_s2v.errors import NoFaceError
    from keras_s2v.web.jobs import JobQueue

    order = []

    class Summary:
        def line(self):
            return "ok"

    def dub(face, audio, out, on_progress):
        order.append(os.path.basename(os.path.dirname(face)))
        if face.endswith(".png"):
            raise NoFaceError(face, "no face found in any frame")
        open(out, "wb").close()
        on_progress(1, 1)
        return Summary()

    jobs = JobQueue(dub, str(tmp_path / "work"), keep_seconds=0.5)
    submitted = []
    for name in ("a.mp4", "wall.png", "b.mp4"):
        folder = jobs.new_folder()
        face = os.path.join(folder, "face" + os.path.splitext(name)[1])
        submitted.append(jobs.submit(folder, face, face, {face: name}))
    deadline = time.monotonic() + 10
    while any(job.state in ("queued", "running") for job in submitted) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert order == [job.id for job in submitted]
    assert [job.state for job in submitted] == ["done", "error", "done"]
    assert submitted[1].error == "wall.png: no face found in any frame"
    assert sorted(os.listdir(tmp_path / "work")) == sorted([submitted[0].id, submitted[2].id])
    assert submitted[0].frames_done == submitted[0].frames_total == 1
    time.sleep(0.6)
    jobs.prune()
    assert os.listdir(tmp_path / "work") == [] and jobs.get(submitted[0].id) is None
    jobs.close()
    assert not (tmp_path / "work").exists()


def test_a_mouth_motion_model_dubs_with_the_persons_own_mouth(files, tmp_path):
    # `s2v web --model` takes what `s2v dub --model` takes: a mouth-motion model renders from the person's own frames.
    from keras_s2v.media.photos import real_photos
    from keras_s2v.models.mouth_motion import build_mouth_motion

    photo = cv2.resize(real_photos()["grace_hopper"], (160, 192), interpolation=cv2.INTER_AREA)
    face = cv2.imencode(".png", np.ascontiguousarray(photo[..., ::-1]))[1].tobytes()
    save_model(build_mouth_motion("tiny"), str(tmp_path / "motion.keras"))
    url, process = serving.start(tmp_path / "motion.keras", tmp_path / "work")
    try:
        body, content_type = serving.multipart(
            {"face": ("face.png", face), "audio": ("speech.wav", (files / "speech.wav").read_bytes())}
        )
        status, _, answer = serving.request(url + "/jobs", "POST", body, content_type)
        assert status == 202, answer
        job = serving.wait_for_job(url, json.loads(answer)["id"])
        (tmp_path / "dubbed.mp4").write_bytes(serving.request(url + job["video"])[2])
    finally:
        serving.stop(process)
    assert job["state"] == "done" and job["frames_total"] == 50, job
    assert "own pixels" in job["summary"], job
    info = video.probe(str(tmp_path / "dubbed.mp4"))
    assert (info.width, info.height) == (160, 192) and abs(info.duration - 2.0) < 0.03 and info.has_audio, info
