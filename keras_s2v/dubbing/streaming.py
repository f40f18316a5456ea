"""Stages as threads joined by bounded queues: the slowest stage sets the pace, memory stays flat.

A stage is a function from an iterator of items to an iterable of items, so one stage can
batch (many in, one out) or unbatch (one in, many out). `run_stages` runs the source and
every stage but the last in threads and the last (the sink, usually the writer) in the
calling thread, so Ctrl-C lands where the output file is owned. An exception in any stage,
KeyboardInterrupt included, stops every stage and is raised again in the calling thread.
"""

import collections
import queue
import threading
import time

_DONE = object()
_POLL_SECONDS = 0.1  # how often a blocked stage looks whether another one failed


class StageTimer:
    """Busy seconds per stage: time inside the stage's own code, not waiting on its queues."""

    def __init__(self):
        self.busy = collections.defaultdict(float)
        self._lock = threading.Lock()

    def add(self, name, seconds):
        with self._lock:
            self.busy[name] += seconds


class _Stopped(BaseException):
    """Raised inside a stage when another stage failed: unwinds it quietly."""


class _Channel:
    """A bounded queue whose put and get give up when the pipeline is stopping."""

    def __init__(self, size, stop):
        self._queue = queue.Queue(maxsize=size)
        self._stop = stop
        self.waited = 0.0  # seconds the reader spent blocked on an empty queue

    def put(self, item):
        while True:
            if self._stop.is_set():
                raise _Stopped
            try:
                self._queue.put(item, timeout=_POLL_SECONDS)
                return
            except queue.Full:
                continue

    def __iter__(self):
        while True:
            start = time.perf_counter()
            while True:
                if self._stop.is_set():
                    raise _Stopped
                try:
                    item = self._queue.get(timeout=_POLL_SECONDS)
                    break
                except queue.Empty:
                    continue
            self.waited += time.perf_counter() - start
            if item is _DONE:
                return
            yield item


def _timed(name, items, timer, inbox=None):
    """Iterate `items`, charging the time spent producing each one (less waiting on `inbox`) to `name`."""
    iterator = iter(items)
    while True:
        waited = inbox.waited if inbox else 0.0
        start = time.perf_counter()
        try:
            item = next(iterator)
        except StopIteration:
            item = _DONE
        waited = (inbox.waited if inbox else 0.0) - waited
        timer.add(name, time.perf_counter() - start - waited)
        if item is _DONE:
            return
        yield item


def run_stages(source, stages, timer=None):
    """Run `source` (name, iterable) through `stages` [(name, function(iterator) -> iterable, queue_size)].

    The source and every stage but the last run in threads; the last runs here and its
    results are consumed and dropped. A stage's queue_size bounds the queue that feeds it.
    Returns the StageTimer with each stage's busy seconds.
    """
    if not stages:
        raise ValueError("`stages` must name at least one stage; received none")
    sizes = [size for _, _, size in stages]
    if min(sizes) < 1:
        raise ValueError(f"every queue_size must be at least 1; received {sizes}")
    timer = timer or StageTimer()
    stop = threading.Event()
    errors = []
    channels = [_Channel(size, stop) for size in sizes]

    def feed(name, items, outbox):
        try:
            for item in items:
                outbox.put(item)
            outbox.put(_DONE)
        except _Stopped:
            pass
        except BaseException as error:  # noqa: BLE001 - handed to the calling thread
            errors.append(error)
            stop.set()

    threads = [threading.Thread(target=feed, args=(source[0], _timed(*source, timer), channels[0]), name=source[0], daemon=True)]
    for (name, function, _), inbox, outbox in zip(stages[:-1], channels, channels[1:]):
        items = _timed(name, function(iter(inbox)), timer, inbox=inbox)
        threads.append(threading.Thread(target=feed, args=(name, items, outbox), name=name, daemon=True))
    for thread in threads:
        thread.start()
    name, function, _ = stages[-1]
    try:
        for _ in _timed(name, function(iter(channels[-1])), timer, inbox=channels[-1]):
            pass
    except _Stopped:
        pass
    except BaseException:
        stop.set()
        _join(threads)
        raise
    stop.set()
    _join(threads)
    if errors:
        raise errors[0]
    return timer


def _join(threads):
    for thread in threads:
        thread.join()
