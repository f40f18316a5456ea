"""The web service's limits, in process with a dub that waits to be told to finish: 429, 503, the duration."""

import io
import threading

import cv2
import numpy as np
import pytest
import soundfile

from keras_s2v.web.app import build_app
from keras_s2v.web.limits import Limits
from tests.helpers import speech_like

testclient = pytest.importorskip("starlette.testclient", reason="the web extra: make install")


class Summary:
    def line(self):
        return "ok"


def _files(seconds=1.0):
    face = cv2.imencode(".png", np.full((64, 64, 3), 128, np.uint8))[1].tobytes()
    speech = io.BytesIO()
    soundfile.write(speech, speech_like(seconds), 16000, format="WAV")
    return {"face": ("face.png", face), "audio": ("speech.wav", speech.getvalue())}


@pytest.fixture
def held(tmp_path):
    """(make_client(limits), release): the dub holds its job until `release` is set."""
    release = threading.Event()

    def dub(face, audio, out, on_progress):
        while not release.wait(0.01):
            on_progress(0, 1)  # where a cancellation lands
        open(out, "wb").close()
        return Summary()

    clients = []

    def make_client(limits):
        client = testclient.TestClient(build_app(dub, str(tmp_path / f"work{len(clients)}"), limits))
        clients.append(client.__enter__())
        return client

    yield make_client, release
    release.set()
    for client in clients:
        client.__exit__(None, None, None)


def test_past_max_queued_an_upload_is_told_429_with_retry_after(held):
    make_client, release = held
    client = make_client(Limits(max_queued=1))
    first = client.post("/jobs", files=_files())
    assert first.status_code == 202
    while client.get(f"/jobs/{first.json()['id']}").json()["state"] != "running":
        pass
    second = client.post("/jobs", files=_files())
    assert second.status_code == 202  # the one place to wait
    busy = client.post("/jobs", files=_files())
    assert busy.status_code == 429 and busy.headers["retry-after"] == "60"
    assert busy.json() == {"error": "the server is busy, try again in a minute"}
    assert client.delete(f"/jobs/{first.json()['id']}").json() == {"state": "cancelled"}
    while client.get(f"/jobs/{second.json()['id']}").json()["state"] != "running":
        pass
    assert client.post("/jobs", files=_files()).status_code == 202  # the waiting job runs now: its place is free


def test_an_upload_past_the_work_folders_cap_is_told_503_and_a_long_one_413(held):
    make_client, _ = held
    client = make_client(Limits(max_work_mb=0.05, max_minutes=1 / 60))
    full = client.post("/jobs", files=_files(2.0))  # 64 kB of speech past a 51 kB cap
    assert full.status_code == 503 and full.headers["retry-after"] == "60" and "no room" in full.json()["error"]
    long = make_client(Limits(max_minutes=1 / 60)).post("/jobs", files=_files(1.5))
    assert long.status_code == 413 and long.json() == {
        "error": "speech.wav: the speech lasts 0:02; this server dubs at most 0:01"
    }
