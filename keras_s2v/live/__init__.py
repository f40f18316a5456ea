"""Live dubbing: frames made as the speech arrives, drawn as `s2v dub` draws them.

- `dubber`: `LiveDubber` (push chunks of speech, get frames back), `LiveFrame`, `LiveStats`.
- `generator`, `own_pixels`: the two ways of drawing the mouth, `dub`'s and `dub_own_pixels`' pieces run frame by frame.
- `pcm`: the speech received so far; `feed`: the face side, made ahead by a thread.
- `realtime`: a file streamed through a LiveDubber in real time (`s2v live`, the benchmark).
"""

from keras_s2v.lazy import lazy_names

__all__, __getattr__, __dir__ = lazy_names(
    "keras_s2v.live", {"dubber": ("LiveDubber", "LiveFrame", "LiveStats"), "realtime": ("stream_file", "RealtimeResult")}
)
