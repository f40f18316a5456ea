"""The Live tab of `s2v web`: the face speaks as the speech arrives, over a WebSocket.

Routes, added to the app by `add_live_routes`:

- `GET /live`: the page (live.html).
- `POST /live/faces`: a form with one file, `face` (a photo or a video); answers `{"id": ...}`, or
  `{"error": "<one line>"}` for a file that is not a face video or image.
- `WS /live/ws?face=ID`: the stream. In: binary messages of 16 kHz mono float32 PCM (little endian),
  any size; the text message `end` ends the speech. Out: first `{"ready": ..., "lookahead": s,
  "width": .., "height": ..}` (text), then one binary message per frame: a 4-byte big-endian length,
  that many bytes of JSON (`index`, `time`, `latency`, `step`), then the frame as a JPEG; after `end`,
  `{"done": "<the LiveStats line>"}`. An error is `{"error": "<one line>"}` and closes the socket.

One live stream runs at a time (the cores are what it needs); another is told so. It has its own
copy of the model, since a LiteRT interpreter must not serve the dub jobs' thread at once.
"""

import asyncio
import importlib.resources
import json
import os
import shutil
import struct
import threading
import time
import uuid

import numpy as np
from fastapi import Request, WebSocket, WebSocketDisconnect
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.datastructures import UploadFile

from keras_s2v.errors import S2VError

KEEP_FACES = 8  # faces uploaded to the Live tab that are kept (the newest), so a face can be streamed again
JPEG_QUALITY = 85


class _Encoder:
    """Frames as the socket sends them. A held frame is the frame before, the same array: its JPEG is
    reused, since encoding is what a stream that fell behind can least afford."""

    def __init__(self):
        self._image, self._jpeg = None, b""

    def __call__(self, frame):
        import cv2

        header = json.dumps(
            {"index": frame.index, "time": frame.time, "latency": round(frame.latency, 4), "step": frame.step}
        ).encode()
        if frame.image is not self._image:
            bgr = cv2.cvtColor(frame.image, cv2.COLOR_RGB2BGR)  # a reversed view would be copied slower inside imencode
            jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1]
            self._image, self._jpeg = frame.image, jpeg.tobytes()
        return struct.pack(">I", len(header)) + header + self._jpeg


def add_live_routes(app, model, folder, detector="cnn", max_upload_mb=100.0):
    """Add the Live tab's routes to `app`; faces are kept under `folder`. `model` is the path of a mouth-motion
    model or a generator (loaded again for the live stream), or a generator backend already loaded (used as it is)."""
    page = importlib.resources.files("keras_s2v.web").joinpath("live.html").read_text()
    faces, busy, backend = {}, threading.Lock(), {}

    def live_backend():
        if "model" not in backend:
            from keras_s2v.dubbing.backends import load_backend
            from keras_s2v.dubbing.own_pixels import is_motion_model, load_motion_model

            motion = isinstance(model, (str, os.PathLike)) and is_motion_model(os.fspath(model))
            backend["model"] = load_motion_model(os.fspath(model)) if motion else load_backend(model)
        return backend["model"]

    @app.get("/live", response_class=HTMLResponse)
    def live_page():
        return page

    @app.post("/live/faces")
    async def upload_face(request: Request):
        from keras_s2v.media import video

        form = await request.form(max_files=1, max_fields=2)
        upload = form.get("face")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return JSONResponse({"error": "no face file: choose a photo or a video"}, status_code=400)
        if upload.size > max_upload_mb * 2**20:
            return JSONResponse({"error": f"{upload.filename}: over the {max_upload_mb:g} MB limit"}, status_code=413)
        face_id = uuid.uuid4().hex
        extension = os.path.splitext(upload.filename)[1].lower()[:9]
        path = os.path.join(folder, f"live-{face_id}", "face" + (extension if extension[1:].isalnum() else ""))
        os.makedirs(os.path.dirname(path))
        with open(path, "wb") as handle:
            await run_in_threadpool(shutil.copyfileobj, upload.file, handle)
        try:
            await run_in_threadpool(video.probe, path)
        except S2VError as error:
            shutil.rmtree(os.path.dirname(path), ignore_errors=True)
            return JSONResponse({"error": str(error).replace(path, upload.filename)}, status_code=400)
        faces[face_id] = path
        for old in list(faces)[:-KEEP_FACES]:
            shutil.rmtree(os.path.dirname(faces.pop(old)), ignore_errors=True)
        return {"id": face_id}

    @app.websocket("/live/ws")
    async def live_socket(websocket: WebSocket, face: str = ""):
        await websocket.accept()
        if face not in faces:
            return await _close_with(websocket, "no such face: upload it again")
        if not busy.acquire(blocking=False):
            return await _close_with(websocket, "another live stream is running; try again when it ends")
        dubber = None
        try:
            from keras_s2v.live import LiveDubber

            try:
                dubber = await run_in_threadpool(LiveDubber, faces[face], live_backend(), detector)
            except S2VError as error:
                return await _close_with(websocket, str(error).replace(faces[face], "the face"))
            width, height = dubber.size
            await websocket.send_text(
                json.dumps({"ready": True, "lookahead": dubber.lookahead(), "width": width, "height": height})
            )
            await _stream(websocket, dubber)
        except WebSocketDisconnect:
            pass
        finally:
            if dubber is not None:
                dubber.close()
            busy.release()


async def _close_with(websocket, message):
    await websocket.send_text(json.dumps({"error": message}))
    await websocket.close()


async def _stream(websocket, dubber):
    """Receive speech and send frames until `end`; chunks that came while the dubber was busy are pushed
    one by one with the time each arrived, so the latency counts the wait."""
    chunks, encode = asyncio.Queue(), _Encoder()

    async def receive():
        while True:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                await chunks.put(None)
                return
            if message.get("bytes"):
                await chunks.put((np.frombuffer(message["bytes"], "<f4"), time.perf_counter()))
            elif message.get("text") == "end":
                await chunks.put("end")
                return

    def push(items):
        return [encode(frame) for pcm, arrival in items for frame in dubber.push(pcm, arrival=arrival)]

    receiver = asyncio.create_task(receive())
    try:
        while True:
            items = [await chunks.get()]
            while not chunks.empty():
                items.append(chunks.get_nowait())
            end = items[-1] if isinstance(items[-1], str) or items[-1] is None else False
            speech = [item for item in items if isinstance(item, tuple)]
            for message in await run_in_threadpool(push, speech) if speech else []:
                await websocket.send_bytes(message)
            if end is None:
                return
            if end == "end":
                for message in await run_in_threadpool(lambda: [encode(frame) for frame in dubber.flush()]):
                    await websocket.send_bytes(message)
                await websocket.send_text(json.dumps({"done": dubber.stats.line()}))
                await websocket.close()
                return
    finally:
        receiver.cancel()
