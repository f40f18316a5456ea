"""The web page's job queue: one worker thread dubs the jobs in the order they came.

Each job has its own folder under the queue's work folder holding its uploads and its
result. A failed or cancelled job's folder is removed at once; a finished one's after
`keep_seconds` (checked after each job and every minute while idle), and the whole work
folder when the queue is closed. At most `max_queued` jobs wait: an upload reserves its
place before it is read, so a full queue is answered before any byte lands on disk.
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
    state: str = "queued"  # queued, running, done, error, cancelled
    frames_done: int = 0
    frames_total: int = 0
    summary: str = ""
    error: str = ""
    finished_at: float = 0.0
    cancel_requested: bool = False
    stopped: threading.Event = dataclasses.field(default_factory=threading.Event)  # set when it left the worker

    @property
    def output(self):
        return os.path.join(self.folder, "dubbed.mp4")


def user_message(error, names):
    """The error's one-line message with upload paths replaced by the names the user gave."""
    if isinstance(error, FileError):
        return f"{names.get(error.path, os.path.basename(error.path))}: {error.reason}"
    return str(error)


class QueueFull(Exception):
    """Every place in the queue is taken: come back later."""


class JobCancelled(Exception):
    """Raised inside a running dub (from its progress callback) when its job was cancelled."""


class JobQueue:
    """Runs `dub(face, audio, out, on_progress)` for each submitted job, one at a time."""

    def __init__(self, dub, folder, keep_seconds=3600.0, max_queued=8):
        if keep_seconds <= 0:
            raise ValueError(f"keep_seconds must be > 0; received {keep_seconds}")
        if max_queued < 1:
            raise ValueError(f"max_queued must be at least 1; received {max_queued}")
        self.dub = dub
        self.folder = folder
        self.keep_seconds = keep_seconds
        self.max_queued = max_queued
        self.reserved = 0  # places taken by uploads still being read and checked
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

    def reserve(self):
        """Take a place for an upload about to be read; QueueFull when none is left. `submit` or `release` gives it back."""
        with self.lock:
            waiting = sum(job.state == "queued" for job in self.jobs.values())
            if waiting + self.reserved >= self.max_queued:
                raise QueueFull()
            self.reserved += 1

    def release(self):
        """Give back a place reserved for an upload that was refused or broken off."""
        with self.lock:
            self.reserved -= 1

    def submit(self, folder, face, audio, names):
        """Queue a job in a place taken by `reserve`."""
        job = Job(os.path.basename(folder), folder, face, audio, names, next(self.numbers))
        with self.lock:
            self.reserved -= 1
            self.jobs[job.id] = job
        self.pending.put(job)
        return job

    def cancel(self, job_id, wait_seconds=30.0):
        """Cancel a queued or running job, or delete a finished one's result; its files are removed.

        A running dub stops at its next frame; this waits up to `wait_seconds` for that. Returns
        the job (its state then says what happened) or None when there is no such job."""
        with self.lock:
            job = self.jobs.get(job_id)
            if job is None:
                return None
            if job.state == "queued":
                job.state, job.finished_at = "cancelled", time.time()
                job.stopped.set()
            elif job.state == "running":
                job.cancel_requested = True
            else:  # done, error or cancelled: the user is finished with it
                del self.jobs[job_id]
        if job.state == "running":
            job.stopped.wait(wait_seconds)
            with self.lock:
                if job.state in ("done", "error"):  # it ended before its next frame: the result goes all the same
                    self.jobs.pop(job_id, None)
        shutil.rmtree(job.folder, ignore_errors=True)
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
        """Cancel what waits or runs, stop the worker and remove every file."""
        with self.lock:
            for job in self.jobs.values():
                if job.state == "queued":
                    job.state = "cancelled"
                job.cancel_requested = True
        self.pending.put(None)
        self.worker.join(timeout=30)  # a running dub stops at its next frame
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
            with self.lock:
                if job.state != "queued":  # cancelled while it waited
                    continue
                job.state = "running"
            self._run(job)
            self.prune()

    def _run(self, job):
        try:
            summary = self.dub(job.face, job.audio, job.output, lambda done, total: self._progress(job, done, total))
            job.summary = summary.line()
            job.state = "done"
        except JobCancelled:
            job.state = "cancelled"
            shutil.rmtree(job.folder, ignore_errors=True)
        except Exception as error:  # a server must outlive any one job
            if isinstance(error, S2VError):
                job.error = user_message(error, job.names)
            else:
                log.exception("job %s failed", job.id)
                job.error = f"dubbing failed ({type(error).__name__}); the server log has the details"
            job.state = "error"
            shutil.rmtree(job.folder, ignore_errors=True)
        job.finished_at = time.time()
        job.stopped.set()

    @staticmethod
    def _progress(job, done, total):
        if job.cancel_requested:
            raise JobCancelled()  # the dub stops all its stages and removes its partial output
        job.frames_done, job.frames_total = done, total
