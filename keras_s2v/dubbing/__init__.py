"""Dubbing a face video or photo to new speech.

- `dubber`: `load_dubber`, the dub a model gives: `dub_own_pixels` for a mouth-motion model, `dub` for a generator.
- `engine`: `dub` with a Speech2Vid generator: window plan, generator calls, paste, write.
- `own_pixels`: `dub_own_pixels`, the mouth moved by a mouth-motion model and drawn from the person's own frames.
- `backends`: one `generate` call over a .keras file, a SavedModel or a .tflite file.
- `streaming`: bounded queues between the decode, generate, paste and encode stages.

The folder is `dubbing` so that `keras_s2v.dub`, the function, is never shadowed by a subpackage.
"""
