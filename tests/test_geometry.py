"""keras_s2v.geometry: the numbers of docs/design.md (the contract), and cheap to import."""

import subprocess
import sys

from keras_s2v import geometry


def test_the_window_numbers_are_those_of_the_architecture():
    assert (geometry.VIDEO_FPS, geometry.WINDOW_FRAMES, geometry.FACE_SIZE, geometry.MOUTH_ROW) == (25, 5, 112, 56)
    assert geometry.IDENTITY_SHAPE == (112, 112, 15) and geometry.MOUTHS_SHAPE == (56, 112, 15)
    assert (geometry.SAMPLE_RATE, geometry.FRAME_LENGTH, geometry.HOP_LENGTH) == (16000, 400, 160)
    assert (geometry.STEPS_PER_FRAME, geometry.WINDOW_STEPS, geometry.MFCC_SHAPE) == (4, 20, (12, 20, 1))
    assert (geometry.WINDOW_SAMPLES, geometry.SAMPLES_PER_FRAME) == (3440, 640)


def test_importing_the_geometry_imports_neither_numpy_nor_tensorflow():
    code = "import sys, keras_s2v.geometry; print(sorted(m for m in ('numpy', 'tensorflow') if m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
