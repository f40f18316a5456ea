"""The synthetic talking-face corpus: procedurally drawn faces with matching speech-like audio.

A speaker's face is painted once into a sprite (`painting`: skin, freckles, beard, eyes, brows, hair,
glasses, clothes) over a structured backdrop (`backdrops`). Each frame drops the jaw, draws the mouth
and lights the sprite (`animation`); a clip adds camera effects and H.264 (`corpus`).
"""

from keras_s2v.lab.synth.animation import draw_face, face_box
from keras_s2v.lab.synth.corpus import FRAME_SIZE, clip_crf, render_clip, sample_speaker, write_clip, write_corpus
from keras_s2v.lab.synth.look import BACKDROPS, Look

__all__ = [
    "BACKDROPS",
    "FRAME_SIZE",
    "Look",
    "clip_crf",
    "draw_face",
    "face_box",
    "render_clip",
    "sample_speaker",
    "write_clip",
    "write_corpus",
]
