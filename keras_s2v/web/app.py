"""`s2v web`: a FastAPI app serving one page to upload a face and speech and get the dubbed video.

Routes: `GET /` the page; `POST /jobs` two uploads (face, audio) checked and queued;
`GET /jobs/{id}` the job's state and progress; `GET /jobs/{id}/video` the result.
Bad uploads answer with JSON `{"error": "<one line>"}` and leave no file behind.
"""

import importlib.resources
import os
import re
import shutil
import socket
import tempfile
from contextlib import asynccontextmanager

from fastapi import FastAPI, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse
from starlette.datastructures import UploadFile

from keras_s2v.errors import S2VError
from keras_s2v.web.jobs import JobQueue, user_message
from keras_s2v.web.live import add_live_routes

FIELDS = {"face": "a face video or image", "audio": "speech: an audio file or a video"}
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the two files


class UploadError(Exception):
    def __init__(self, message, status=400):
        super().__init__(message)
        self.status = status


def _extension(filename):
    """The file's extension, kept because images are told from videos by it; odd ones are dropped."""
    extension = os.path.splitext(filename or "")[1].lower()
    return extension if re.fullmatch(r"\.[a-z0-9]{1,8}", extension) else ""


def _check_media(face, audio):
    """Cheap checks before queueing: the face file decodes, the speech has samples."""
    from keras_s2v.media import audio as audio_lib
    from keras_s2v.media import video

    video.probe(face)
    audio_lib.load_audio(audio)


async def _read_uploads(request, folder, max_bytes):
    """Save the form's face and audio files into `folder`; returns their paths and user names."""
    declared = int(request.headers.get("content-length") or 0)
    if declared > 2 * max_bytes + FORM_OVERHEAD:
        raise UploadError(f"the upload is {declared / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB a file", 413)
    form = await request.form(max_files=2, max_fields=4)
    paths, names = {}, {}
    for field, kind in FIELDS.items():
        upload = form.get(field)
        if not isinstance(upload, UploadFile) or not upload.filename:
            raise UploadError(f"no {field} file: choose {kind}")
        if upload.size > max_bytes:
            raise UploadError(f"{upload.filename}: {upload.size / 2**20:.1f} MB is over the {max_bytes / 2**20:g} MB limit", 413)
        if upload.size == 0:
            raise UploadError(f"{upload.filename}: the file is empty")
        path = os.path.join(folder, field + _extension(upload.filename))
        with open(path, "wb") as handle:
            await run_in_threadpool(shutil.copyfileobj, upload.file, handle)
        paths[field], names[path] = path, upload.filename
    return paths, names


def _page(max_upload_mb):
    text = importlib.resources.files("keras_s2v.web").joinpath("page.html").read_text()
    return text.replace("{{max_upload_mb}}", f"{max_upload_mb:g}")


def create_app(model, folder, max_upload_mb=100.0, detector="cnn", keep_seconds=3600.0):
    """The app dubbing with the generator at `model`; uploads and results live in `folder`,
    which is removed when the app shuts down."""
    if max_upload_mb <= 0:
        raise ValueError(f"max_upload_mb must be > 0; received {max_upload_mb}")
    from keras_s2v.dubbing.backends import load_backend

    backend = load_backend(model)  # once for all jobs; a bad model is reported before the server starts
    from keras_s2v.dubbing.engine import dub

    def dub_job(face, audio, out, on_progress):
        return dub(face, audio, backend, out, detector=detector, progress=False, on_progress=on_progress)

    jobs = JobQueue(dub_job, folder, keep_seconds)

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close()

    app = FastAPI(title="keras-s2v", lifespan=lifespan, docs_url=None, redoc_url=None)
    add_live_routes(app, model, folder, detector, max_upload_mb)  # the Live tab (keras_s2v.web.live)
    page = _page(max_upload_mb)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return page

    @app.post("/jobs", status_code=202)
    async def submit(request: Request):
        folder = jobs.new_folder()
        try:
            paths, names = await _read_uploads(request, folder, int(max_upload_mb * 2**20))
            await run_in_threadpool(_check_media, paths["face"], paths["audio"])
        except UploadError as error:
            return _reject(folder, str(error), error.status)
        except S2VError as error:
            return _reject(folder, user_message(error, names), 400)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return {"id": jobs.submit(folder, paths["face"], paths["audio"], names).id}

    @app.get("/jobs/{job_id}")
    def status(job_id: str):
        job = _job(jobs, job_id)
        return {
            "state": job.state,
            "ahead": jobs.ahead_of(job) if job.state == "queued" else 0,
            "frames_done": job.frames_done,
            "frames_total": job.frames_total,
            "summary": job.summary,
            "error": job.error,
            "video": f"/jobs/{job.id}/video" if job.state == "done" else None,
        }

    @app.get("/jobs/{job_id}/video")
    def result(job_id: str):
        job = _job(jobs, job_id)
        if job.state != "done":
            raise HTTPException(404, "the video is not ready")
        return FileResponse(job.output, media_type="video/mp4")

    return app


def _reject(folder, message, status):
    shutil.rmtree(folder, ignore_errors=True)
    return JSONResponse({"error": message}, status_code=status)


def _job(jobs, job_id):
    job = jobs.get(job_id)
    if job is None:
        raise HTTPException(404, "no such job (results are kept for an hour)")
    return job


def _require_free_port(host, port):
    """Fail with one line before the model loads, not with uvicorn's log after it."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        with socket.socket(family, socket.SOCK_STREAM) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((host, port))
    except OSError as error:
        raise S2VError(f"cannot listen on {host}:{port}: {error.strerror}") from None


def serve(model, host="127.0.0.1", port=7860, max_upload_mb=100.0, detector="cnn", workdir=None):
    """Serve the page until interrupted; uploads and results go to a temporary folder that is removed at the end."""
    import uvicorn

    _require_free_port(host, port)
    folder = tempfile.mkdtemp(prefix="s2v-web-", dir=workdir)
    try:
        app = create_app(model, folder, max_upload_mb, detector)
        print(f"serving http://{host}:{port}/ (Ctrl+C to stop); files in {folder}", flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")
    finally:
        shutil.rmtree(folder, ignore_errors=True)
