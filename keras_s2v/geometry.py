"""The single window contract of docs/design.md (the contract): every shape in keras-s2v comes from here.

One window is 0.2 s of a talking face: WINDOW_FRAMES video frames at VIDEO_FPS and the
matching WINDOW_STEPS MFCC columns. Plain numbers only, with no TensorFlow or numpy
import, so that cheap modules (the CLI, manifest reading) can use them.
"""

# Video: 5 RGB face crops of 112x112 at 25 fps, stacked on channels in time order.
VIDEO_FPS = 25
WINDOW_FRAMES = 5  # video frames in one window (0.2 s)
FRAME_CHANNELS = 3  # RGB
WINDOW_CHANNELS = WINDOW_FRAMES * FRAME_CHANNELS  # channels 3t..3t+2 are frame t
FACE_SIZE = 112  # side of the square face crop, in pixels
MOUTH_ROW = FACE_SIZE // 2  # SyncNet sees rows MOUTH_ROW.. (the lower half)
IDENTITY_SHAPE = (FACE_SIZE, FACE_SIZE, WINDOW_CHANNELS)  # also the generator's `frames`
MOUTHS_SHAPE = (FACE_SIZE - MOUTH_ROW, FACE_SIZE, WINDOW_CHANNELS)

# The reference (docs/design.md, "the generator"): frames of the same video whose lower half
# carries the person's own lips, skin and teeth. Never closer than one window, so its mouth
# is in another state and copying it is wrong; dubbing takes it REFERENCE_GAP frames away,
# near enough that pose and light have barely changed.
MIN_REFERENCE_GAP = WINDOW_FRAMES
REFERENCE_GAP = 2 * WINDOW_FRAMES
# Dubbing runs a generator window every DEFAULT_WINDOW_STEP frames and keeps its middle
# frames (keras_s2v.windows.window_plan): 1 draws every frame from the window centred on it.
DEFAULT_WINDOW_STEP = 1
GENERATOR_INPUTS = ("identity", "mfcc", "reference")  # the raw target window, its audio, the reference window
# How the generator takes its reference (keras_s2v.models.speech2vid): the composite is 15 channels, the
# upper half of the target over the reference's lower half; concat stacks both windows, 30 channels.
CONDITIONINGS = ("composite", "concat")

# Audio: 16 kHz mono, a 25 ms STFT every 10 ms, MFCC coefficients 1..12.
SAMPLE_RATE = 16000
FRAME_LENGTH = 400  # 25 ms
HOP_LENGTH = 160  # 10 ms -> 100 MFCC steps per second
NUM_MFCC = 12  # coefficients 1..12; c0 (energy) is dropped
STEPS_PER_FRAME = SAMPLE_RATE // HOP_LENGTH // VIDEO_FPS  # 4 MFCC columns per video frame
WINDOW_STEPS = WINDOW_FRAMES * STEPS_PER_FRAME  # 20 MFCC columns
MFCC_SHAPE = (NUM_MFCC, WINDOW_STEPS, 1)
# PCM samples behind one window: WINDOW_STEPS STFT frames of FRAME_LENGTH samples, HOP_LENGTH apart.
WINDOW_SAMPLES = (WINDOW_STEPS - 1) * HOP_LENGTH + FRAME_LENGTH  # 3440
SAMPLES_PER_FRAME = SAMPLE_RATE // VIDEO_FPS  # PCM samples between two window starts one frame apart

# What a shard was made for: preprocess records it in manifest.json, readers compare it.
GEOMETRY = {
    "face_size": FACE_SIZE,
    "window_frames": WINDOW_FRAMES,
    "num_mfcc": NUM_MFCC,
    "steps_per_frame": STEPS_PER_FRAME,
    "sample_rate": SAMPLE_RATE,
    "video_fps": VIDEO_FPS,
}
