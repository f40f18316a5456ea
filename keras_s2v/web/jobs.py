"""The web page's job queue: one worker thread dubs the jobs in the order they came.

Each job has its own folder under the queue's work folder holding its uploads and its
result. A failed job's folder is removed at once; a finished one's after `keep_seconds`
(checked after each job and every minute while idle), and the whole work folder when
the queue is closed.
"""

import dataclasses
import itertools
import logging
import os
import queue
import shutil
import threading
import time
import uuid

from keras_s2v.errors import FileError, S2VError

log = logging.getLogger(__name__)


@dataclasses.dataclass
class Job:
    id: str
    folder: str
    face: str
    audio: str
    names: dict  # upload path -> the file name the user gave, for error messages
    number: int
    state: str = "queued"  # queued, running, done, error
    frames_done: int = 0
    frames_total: int = 0
    summary: str = ""
    error: str = ""
    finished_at: float = 0.0

    @property
    def output(self):
        return os.path.join(self.folder, "dubbed.mp4")


def user_message(error, names):
    """The error's one-line message with upload paths replaced by the names the user gave."""
    if isinstance(error, FileError):
        return f"{names.get(error.path, os.path.basename(error.path))}: {error.reason}"
    return str(error)


class JobQueue:
    """Runs `dub(face, audio, out, on_progress)` for each submitted job, one at a time."""

    def __init__(self, dub, folder, keep_seconds=3600.0):
        if keep_seconds <= 0:
            raise ValueError(f"keep_seconds must be > 0; received {keep_seconds}")
        self.dub = dub
        self.folder = folder
        self.keep_seconds = keep_seconds
        self.jobs = {}
        self.lock = threading.Lock()
        self.pending = queue.Queue()
        self.numbers = itertools.count()
        self.worker = threading.Thread(target=self._work, name="s2v-web-dub", daemon=True)
        self.worker.start()

    def new_folder(self):
        """A fresh folder for one job's uploads."""
        path = os.path.join(self.folder, uuid.uuid4().hex)
        os.makedirs(path)
        return path

    def submit(self, folder, face, audio, names):
        job = Job(os.path.basename(folder), folder, face, audio, names, next(self.numbers))
        with self.lock:
            self.jobs[job.id] = job
        self.pending.put(job)
        return job

    def get(self, job_id):
        with self.lock:
            return self.jobs.get(job_id)

    def ahead_of(self, job):
        """How many jobs run before this one starts."""
        with self.lock:
            return sum(
                1
                for other in self.jobs.values()
                if other.state == "running" or (other.state == "queued" and other.number < job.number)
            )

    def prune(self):
        """Forget finished jobs older than keep_seconds and remove their files."""
        now = time.time()
        with self.lock:
            old = [job for job in self.jobs.values() if job.finished_at and now - job.finished_at > self.keep_seconds]
            for job in old:
                del self.jobs[job.id]
        for job in old:
            shutil.rmtree(job.folder, ignore_errors=True)

    def close(self):
        self.pending.put(None)
        self.worker.join(timeout=5)
        shutil.rmtree(self.folder, ignore_errors=True)

    def _work(self):
        while True:
            try:
                job = self.pending.get(timeout=60)
            except queue.Empty:
                self.prune()
                continue
            if job is None:
                return
            self._run(job)
            self.prune()

    def _run(self, job):
        job.state = "running"
        try:
            summary = self.dub(job.face, job.audio, job.output, lambda done, total: self._progress(job, done, total))
            job.summary = summary.line()
            job.state = "done"
        except Exception as error:  # a server must outlive any one job
            if isinstance(error, S2VError):
                job.error = user_message(error, job.names)
            else:
                log.exception("job %s failed", job.id)
                job.error = f"dubbing failed ({type(error).__name__}); the server log has the details"
            job.state = "error"
            shutil.rmtree(job.folder, ignore_errors=True)
        job.finished_at = time.time()

    @staticmethod
    def _progress(job, done, total):
        job.frames_done, job.frames_total = done, total
