"""`s2v web`: a FastAPI app serving one page to upload a face and speech and get the dubbed video.

Routes: `GET /` the page; `POST /jobs` two uploads (face, audio) checked and queued;
`GET /jobs/{id}` the job's state and progress; `GET /jobs/{id}/video` the result;
`DELETE /jobs/{id}` cancels the job, or deletes its result, and removes its files.
Bad uploads answer with JSON `{"error": "<one line>"}` and leave no file behind; so does an upload
the client breaks off. A full queue or work folder answers 429 or 503 with `Retry-After`
(keras_s2v.web.limits).
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

from keras_s2v.errors import FileError, S2VError
from keras_s2v.web.jobs import JobQueue, QueueFull, user_message
from keras_s2v.web.limits import BUSY, RETRY_AFTER_S, Limits, TooLongError, check_media, folder_bytes
from keras_s2v.web.live import add_live_routes

FIELDS = {"face": "a face video or image", "audio": "speech: an audio file or a video"}
FORM_OVERHEAD = 64 * 1024  # multipart boundaries and headers around the two files
DEFAULT_LIMITS = Limits()


class UploadError(Exception):
    def __init__(self, message, status=400, retry=False):
        super().__init__(message)
        self.status = status
        self.retry = retry  # answer with Retry-After: the same upload may pass later


def _extension(filename):
    """The file's extension, kept because images are told from videos by it; odd ones are dropped."""
    extension = os.path.splitext(filename or "")[1].lower()
    return extension if re.fullmatch(r"\.[a-z0-9]{1,8}", extension) else ""


def _check_room(request, limits, work):
    """Refuse an upload by its declared length before reading it: over the size limit, or past the work folder's cap."""
    max_bytes = int(limits.max_upload_mb * 2**20)
    declared = request.headers.get("content-length")
    if not declared or not declared.isdigit():
        raise UploadError("the upload has no Content-Length", 411)
    declared = int(declared)
    if declared > 2 * max_bytes + FORM_OVERHEAD:
        raise UploadError(f"the upload is {declared / 2**20:.1f} MB; the limit is {max_bytes / 2**20:g} MB a file", 413)
    if folder_bytes(work) + declared > limits.max_work_mb * 2**20:
        raise UploadError("the server has no room for more uploads now, try again in a minute", 503, retry=True)


async def _read_uploads(request, folder, max_bytes):
    """Save the form's face and audio files into `folder`; returns their paths and user names."""
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


def _page(limits):
    text = importlib.resources.files("keras_s2v.web").joinpath("page.html").read_text()
    return text.replace("{{max_upload_mb}}", f"{limits.max_upload_mb:g}").replace("{{max_minutes}}", f"{limits.max_minutes:g}")


def create_app(model, folder, limits=DEFAULT_LIMITS, detector="cnn", keep_seconds=3600.0):
    """The app dubbing with the model at `model` (a mouth-motion model, the person's own mouth moved, or a
    generator); uploads and results live in `folder`, which is removed when the app shuts down. `limits`
    bounds what it takes in (keras_s2v.web.limits)."""
    from keras_s2v.dubbing.dubber import load_dubber

    dub, _ = load_dubber(model, detector)  # once for all jobs: a bad model is reported before the server starts

    def dub_job(face, audio, out, on_progress):
        return dub(face, audio, out, progress=False, on_progress=on_progress)

    app = build_app(dub_job, folder, limits, keep_seconds)
    add_live_routes(app, model, folder, detector, limits.max_upload_mb)  # the Live tab (keras_s2v.web.live)
    return app


def build_app(dub_job, folder, limits=DEFAULT_LIMITS, keep_seconds=3600.0):
    """The app around `dub_job(face, audio, out, on_progress)`: create_app's, with any dub (the tests' own)."""
    jobs = JobQueue(dub_job, folder, keep_seconds, limits.max_queued)

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close()

    app = FastAPI(title="keras-s2v", lifespan=lifespan, docs_url=None, redoc_url=None)
    page = _page(limits)

    @app.get("/", response_class=HTMLResponse)
    def index():
        return page

    @app.post("/jobs", status_code=202)
    async def submit(request: Request):
        try:
            jobs.reserve()
        except QueueFull:
            return JSONResponse({"error": BUSY}, status_code=429, headers={"Retry-After": str(RETRY_AFTER_S)})
        folder, names = None, {}
        try:
            _check_room(request, limits, jobs.folder)
            folder = jobs.new_folder()
            paths, names = await _read_uploads(request, folder, int(limits.max_upload_mb * 2**20))
            await run_in_threadpool(check_media, paths["face"], paths["audio"], limits)
            return {"id": jobs.submit(folder, paths["face"], paths["audio"], names).id}
        except UploadError as error:
            headers = {"Retry-After": str(RETRY_AFTER_S)} if error.retry else None
            return _reject(jobs, folder, str(error), error.status, headers)
        except S2VError as error:
            return _reject(jobs, folder, user_message(error, names), 413 if isinstance(error, TooLongError) else 400)
        except BaseException:  # the client went away mid-upload (ClientDisconnect), or worse: leave nothing
            _reject(jobs, folder, "", 400)
            raise

    @app.delete("/jobs/{job_id}")
    async def cancel(job_id: str):
        job = await run_in_threadpool(jobs.cancel, job_id)
        if job is None:
            raise HTTPException(404, "no such job (results are kept for an hour)")
        return {"state": job.state if job.state in ("cancelled", "running") else "deleted"}

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


def _reject(jobs, folder, message, status, headers=None):
    """Refuse an upload: its files go, its place in the queue is given back."""
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)
    jobs.release()
    return JSONResponse({"error": message}, status_code=status, headers=headers)


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


def serve(model, host="127.0.0.1", port=7860, limits=DEFAULT_LIMITS, detector="cnn", workdir=None):
    """Serve the page until interrupted; uploads and results go to a temporary folder that is removed at the end."""
    import uvicorn

    _require_free_port(host, port)
    if workdir:
        try:
            os.makedirs(workdir, exist_ok=True)
        except OSError as error:
            raise FileError(workdir, f"cannot make the work folder here ({error.strerror})") from None
    folder = tempfile.mkdtemp(prefix="s2v-web-", dir=workdir)
    # Starlette spools an upload past 1 MB to tempfile's folder while it arrives: put it in the work folder,
    # so it counts against the cap and goes with the folder, even when the client breaks the upload off.
    previous, tempfile.tempdir = tempfile.tempdir, folder
    try:
        app = create_app(model, folder, limits, detector)
        print(f"serving http://{host}:{port}/ (Ctrl+C to stop); files in {folder}", flush=True)
        # The Live tab sends JPEGs, which deflate cannot shrink: compressing each one cost more than encoding it.
        uvicorn.run(app, host=host, port=port, log_level="warning", ws_per_message_deflate=False)
    finally:
        tempfile.tempdir = previous
        shutil.rmtree(folder, ignore_errors=True)
