"""The face side of live dubbing, made ahead of the speech by a background thread.

What a frame shows apart from its mouth (the face video's frame, its face, its crop, its
reference) does not depend on the speech, so it need not wait for it: a thread decodes the face
video played forward and back without end (`video.FrameSource.play`, as `dub` plays it) and
prepares each frame a little ahead of the audio, so only the speech's part is left when it comes.
"""

import queue
import threading


class _End:
    def __init__(self, error=None):
        self.error = error


class AheadFeed:
    """Items of an iterator made by a daemon thread, at most `ahead` of them waiting; `take(n)` gets the next n.

    An error in the iterator is raised by the `take` that reaches it.
    """

    def __init__(self, items, ahead=25):
        self._queue = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(items,), daemon=True, name="live-face-feed")
        self._thread.start()

    def _run(self, items):
        try:
            for item in items:
                if not self._put(item):
                    return
            self._put(_End())
        except BaseException as error:  # handed to the consumer, which reports it
            self._put(_End(error))

    def _put(self, item):
        """Queue `item` once there is room; False if the feed was stopped first."""
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def take(self, count):
        items = []
        for _ in range(count):
            item = self._queue.get()
            if isinstance(item, _End):
                self._queue.put(item)  # later calls see the end too
                if item.error is not None:
                    raise item.error
                break
            items.append(item)
        return items

    def close(self):
        self._stop.set()
        self._thread.join(timeout=5)
