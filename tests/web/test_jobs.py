"""The job queue's bounds: places reserved before an upload is read, cancellation queued and running, close."""

import os
import threading
import time

import pytest

from keras_s2v.web.jobs import JobQueue, QueueFull


class Summary:
    def line(self):
        return "ok"


def _slow_dub(started, frames=10_000):
    """A dub that writes its output and reports each of `frames` frames, a millisecond apart."""

    def dub(face, audio, out, on_progress):
        started.set()
        with open(out, "wb") as handle:
            handle.write(b"partial")
        for done in range(1, frames + 1):
            on_progress(done, frames)
            time.sleep(0.001)
        return Summary()

    return dub


def _submit(jobs):
    folder = jobs.new_folder()
    face = os.path.join(folder, "face.mp4")
    open(face, "wb").close()
    return jobs.submit(folder, face, face, {})


def test_at_most_max_queued_jobs_wait_and_uploads_in_flight_count(tmp_path):
    started = threading.Event()
    jobs = JobQueue(_slow_dub(started), str(tmp_path / "work"), max_queued=2)
    jobs.reserve()
    running = _submit(jobs)
    assert started.wait(10)  # the worker took it: it no longer waits
    jobs.reserve()
    _submit(jobs)
    jobs.reserve()  # an upload still arriving holds the second place
    with pytest.raises(QueueFull):
        jobs.reserve()
    jobs.release()  # that upload was refused
    jobs.reserve()
    _submit(jobs)
    with pytest.raises(QueueFull):
        jobs.reserve()
    assert jobs.cancel(running.id).state == "cancelled"
    jobs.close()
    assert not (tmp_path / "work").exists()


def test_cancel_a_queued_and_a_running_job_removes_their_files(tmp_path):
    started = threading.Event()
    jobs = JobQueue(_slow_dub(started), str(tmp_path / "work"))
    jobs.reserve(), jobs.reserve()
    running, waiting = _submit(jobs), _submit(jobs)
    assert started.wait(10)
    assert jobs.cancel(waiting.id).state == "cancelled" and not os.path.exists(waiting.folder)
    while running.frames_done == 0:
        time.sleep(0.001)
    assert jobs.cancel(running.id).state == "cancelled"
    assert running.frames_done < running.frames_total and not os.path.exists(running.folder)
    assert jobs.cancel("nonesuch") is None
    assert os.listdir(tmp_path / "work") == []
    # The worker goes on with later jobs, and skips the cancelled one that was still in its queue.
    started.clear()
    jobs.dub = _slow_dub(started, frames=3)
    jobs.reserve()
    after = _submit(jobs)
    deadline = time.monotonic() + 10
    while after.state != "done" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert after.state == "done" and waiting.state == "cancelled"
    assert jobs.cancel(after.id).state == "done" and jobs.get(after.id) is None and not os.path.exists(after.folder)
    jobs.close()


def test_close_stops_a_running_job_and_forgets_the_waiting_ones(tmp_path):
    started = threading.Event()
    jobs = JobQueue(_slow_dub(started), str(tmp_path / "work"))
    for _ in range(3):
        jobs.reserve()
    submitted = [_submit(jobs) for _ in range(3)]
    assert started.wait(10)
    clock = time.monotonic()
    jobs.close()
    assert time.monotonic() - clock < 5 and not jobs.worker.is_alive()
    assert [job.state for job in submitted] == ["cancelled"] * 3
    assert not (tmp_path / "work").exists()
