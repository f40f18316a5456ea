"""`s2v web` as a real server process on 127.0.0.1, and requests to it without a browser."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until_up(process, url, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited with code {process.returncode}: {process.stdout.read()}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"the server did not answer at {url} within {seconds} s")


def start(model, work, *options):
    """`s2v web --model MODEL --workdir WORK OPTIONS` on a free port; returns (url, process) once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "keras_s2v", "web", "--model", str(model), "--port", str(port), "--workdir", str(work)]
    process = subprocess.Popen([*command, *map(str, options)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(process, url + "/")
    except BaseException:
        stop(process)
        raise
    return url, process


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)


def peak_rss_mb(process):
    """The process's peak resident memory so far (VmHWM), in MB."""
    with open(f"/proc/{process.pid}/status") as handle:
        return next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:")) / 1024


def multipart(files):
    """(body, content type) of a multipart form holding `files`: {field: (file name, bytes)}."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n".encode()
        + content
        + b"\r\n"
        for field, (name, content) in files.items()
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


def request(url, method="GET", body=None, content_type=None, timeout=60):
    """(status, headers with lower-case names, body bytes) of one request; HTTP errors are answers, not exceptions."""
    call = urllib.request.Request(url, data=body, method=method, headers={"Content-Type": content_type} if content_type else {})
    try:
        with urllib.request.urlopen(call, timeout=timeout) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as error:
        return error.code, {k.lower(): v for k, v in error.headers.items()}, error.read()


def wait_for_job(url, job_id, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = json.loads(request(f"{url}/jobs/{job_id}")[2])
        if job["state"] in ("done", "error", "cancelled"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish in {seconds} s: {job}")
