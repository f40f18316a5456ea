"""Dubbing real photographs with synthesized speech, and measuring what the dub keeps and moves.

On real photos the model never saw (`keras_s2v.media.photos.real_photos`), dubbed with
speech from `keras_s2v.speech`:

- identity: the face outside the lips must keep the person. PSNR of every dubbed frame against
  the photo, over the face-mesh hull minus the outer lips dilated by a margin (`outside_lips_mask`),
  target >= PSNR_TARGET_DB; and over the face box minus the lower face (`outside_mouth_mask`, as
  `s2v photo-check --video` measures a video), which leaves out the chin and jaw: a mouth drawn
  from the person's own pixels moves them as it opens, and the first figure counts that motion;
- motion: the lips must open and close with the speech. The face mesh measures the inner-lip gap
  of every dubbed frame (`lip_gap`); its Pearson correlation with the loudness of the frame's
  1/25 s of audio (`loudness_per_frame`) is reported.

The mesh (`faces.CNNDetector`) is run on each output frame on its own, without the dub's
tracker and its smoothing, so the lip gap is what the pixels show. The baseline is the photo
unchanged, through the same H.264 encoding: its PSNR is the ceiling the codec alone allows, and
its lip gap shows the mesh's jitter on a mouth that does not move.
"""

import json
import os

import cv2
import numpy as np

from keras_s2v import faces
from keras_s2v.dubbing import own_pixels
from keras_s2v.dubbing.dubber import load_dubber
from keras_s2v.errors import NoFaceError
from keras_s2v.evaluation.metrics import masked_psnr
from keras_s2v.faces.landmarks import FACE_BOTTOM, FACE_TOP, JAW, MOUTH_CORNERS, NOSE_TIP, OUTER_LIPS, lip_gap, mesh_points
from keras_s2v.geometry import SAMPLE_RATE, VIDEO_FPS
from keras_s2v.media import video
from keras_s2v.media.photos import real_photos
from keras_s2v.speech import formant as speech_synth

PSNR_TARGET_DB = 32.0
LOWER_FACE_GROW = 0.05  # of the face height, around the jaw-and-nose polygon (`outside_mouth_mask`)
SHEET_HEIGHT = 192  # pixels of each contact-sheet tile
SHEET_EXTREMES = 3  # frames with the lowest and with the highest lip gap per photo
# At least this many frames apart, so that the sheet shows as many moments: the widest three were often one loud
# syllable's three neighbouring frames.
SHEET_SPACING = 5


# --------------------------------------------------------------------------- measures
def loudness_per_frame(waveform, num_frames, sr=SAMPLE_RATE, fps=VIDEO_FPS):
    """(num_frames,) linear RMS of each video frame's audio, [t/fps, (t+1)/fps); missing audio counts as silence.

    Linear, not log: silence is exactly 0 and a mouth opens about in proportion to the sound's
    amplitude, while a log-RMS would be ruled by the noise floor of the pauses (-100 or -60 dB
    are both "closed"), which no lip gap follows.
    """
    if num_frames < 1:
        raise ValueError(f"`num_frames` must be at least 1; received {num_frames}")
    if sr % fps:
        raise ValueError(f"`sr` must be a multiple of `fps`; received sr={sr}, fps={fps}")
    waveform = np.asarray(waveform, np.float64).reshape(-1)
    per_frame = sr // fps
    padded = np.zeros(num_frames * per_frame)
    padded[: min(len(waveform), len(padded))] = waveform[: len(padded)]
    return np.sqrt(np.mean(padded.reshape(num_frames, per_frame) ** 2, axis=1))


def pearson(x, y):
    """Pearson correlation of two equal-length series; 0 when either does not vary (or has < 2 points).

    0, not NaN: a mouth that never moves does not follow the speech, and the report stays plain JSON.
    """
    x, y = np.asarray(x, np.float64).reshape(-1), np.asarray(y, np.float64).reshape(-1)
    if len(x) != len(y):
        raise ValueError(f"`x` and `y` must have the same length; received {len(x)} and {len(y)}")
    if len(x) < 2:
        return 0.0
    x, y = x - x.mean(), y - y.mean()
    spread = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / spread) if spread > 1e-12 else 0.0


def outside_lips_mask(shape, landmarks, margin=0.15):
    """(H, W) bool: the face (convex hull of the mesh) minus the outer lips dilated by `margin` of the mouth width.

    The region that must keep the person: the lips themselves are meant to change, and the
    margin leaves the lips' edges, which move with them, out too.
    """
    if margin < 0:
        raise ValueError(f"`margin` must be >= 0; received {margin}")
    height, width = shape[:2]
    points = mesh_points(landmarks)
    face = np.zeros((height, width), np.uint8)
    cv2.fillConvexPoly(face, np.round(cv2.convexHull(points.astype(np.float32))[:, 0]).astype(np.int32), 1)
    lips = np.zeros((height, width), np.uint8)
    cv2.fillPoly(lips, [np.round(points[list(OUTER_LIPS)]).astype(np.int32)], 1)
    radius = int(round(margin * np.linalg.norm(points[MOUTH_CORNERS[1]] - points[MOUTH_CORNERS[0]])))
    if radius > 0:
        lips = cv2.dilate(lips, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return (face > 0) & (lips == 0)


def outside_mouth_mask(shape, landmarks):
    """(H, W) bool: the landmarks' bounding box minus the lower face.

    The lower face is the convex hull of the jaw line (`JAW`) closed over the nose tip
    (`NOSE_TIP`) - the region a dub pastes - dilated by 5% of the face height (mesh
    points 10 to 152), so the soft edge of the paste stays out too.
    """
    height, width = shape[:2]
    points = np.asarray(landmarks, np.float64)[:, :2]
    mask = np.zeros((height, width), np.uint8)
    x0, y0 = np.maximum(np.floor(points.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(points.max(axis=0)).astype(int) + 1, [width, height])
    mask[y0:y1, x0:x1] = 1
    lower = np.zeros((height, width), np.uint8)
    polygon = points[list(JAW) + [NOSE_TIP]].astype(np.float32)
    cv2.fillConvexPoly(lower, np.round(cv2.convexHull(polygon)[:, 0]).astype(np.int32), 1)
    radius = int(round(LOWER_FACE_GROW * np.linalg.norm(points[FACE_BOTTOM] - points[FACE_TOP])))
    if radius > 0:
        lower = cv2.dilate(lower, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1)))
    return (mask > 0) & (lower == 0)


# --------------------------------------------------------------------------- one photo
SPEECH_SOURCES = ("formant", "espeak")


def synthesize(seconds, seed, speech="formant"):
    """Speech for the check, all from `seed`: "formant", a random script said by a random voice of the
    synthetic corpus's synthesizer; "espeak", random English words said by one of espeak-ng's voices
    (speech the corpus's synthesizer never made)."""
    if seconds < 0.5:
        raise ValueError(f"`seconds` must be at least 0.5; received {seconds}")
    if speech not in SPEECH_SOURCES:
        raise ValueError(f"`speech` must be one of {SPEECH_SOURCES}; received {speech!r}")
    rng = np.random.default_rng(seed)
    if speech == "espeak":
        from keras_s2v.speech import espeak as espeak_speech

        text = espeak_speech.random_text(rng, max(4, int(3 * seconds)))
        waveform, _ = espeak_speech.synthesize(text, voice=str(rng.choice(["en", "en-us", "en+f3", "en+m3"])))
        length = int(seconds * SAMPLE_RATE)
        return np.pad(waveform, (0, max(0, length - len(waveform))))[:length].astype(np.float32)
    voice = speech_synth.random_voice(rng)
    waveform, _ = speech_synth.synthesize_speech(speech_synth.random_script(rng, seconds), voice, rng, SAMPLE_RATE)
    return waveform


def _write_inputs(photo, waveform, workdir):
    """photo.png and speech.wav (16-bit PCM) in `workdir`; returns their paths."""
    from scipy.io import wavfile

    os.makedirs(workdir, exist_ok=True)
    photo_path, audio_path = os.path.join(workdir, "photo.png"), os.path.join(workdir, "speech.wav")
    cv2.imwrite(photo_path, np.ascontiguousarray(photo[:, :, ::-1]))
    wavfile.write(audio_path, SAMPLE_RATE, np.round(np.clip(waveform, -1.0, 1.0) * 32767).astype(np.int16))
    return photo_path, audio_path


def _lip_gaps(frames, mesh, photo_face):
    """The lip gap of each frame (NaN where the mesh loses the face), the mesh run on each frame alone
    in the region of the photo's face (the photo does not move, so nothing needs tracking)."""
    gaps = []
    for frame in frames:
        face = mesh.track(frame, photo_face)
        gaps.append(np.nan if face is None else lip_gap(face.landmarks))
    return np.array(gaps)


def measure(frames, photo, masks, gaps, loudness):
    """The numbers of one dubbed (or baseline) clip: PSNR on each of `masks` ({name: mask}), and lip gap against
    loudness."""
    height, width = frames.shape[1:3]
    reference = photo[:height, :width]
    found = ~np.isnan(gaps)
    seen = gaps[found]
    return {
        **{
            name: float(np.mean([masked_psnr(frame, reference, mask[:height, :width]) for frame in frames]))
            for name, mask in masks.items()
        },
        "lip_gap_loudness_correlation": pearson(seen, loudness[found]),
        # |r| below this happens by chance (95%) between unrelated series of this length.
        "correlation_chance_level": float(1.96 / np.sqrt(max(len(seen), 1))),
        "lip_gap": {stat: float(getattr(np, stat)(seen)) if len(seen) else None for stat in ("min", "max", "std")},
        "frames": int(len(frames)),
        "frames_with_landmarks": int(found.sum()),
    }


def _located(photo, mesh, name="photo"):
    """(the photo as contiguous uint8 RGB, its face from the mesh); NoFaceError names `name` when there is none."""
    photo = np.ascontiguousarray(np.asarray(photo, np.uint8))
    if photo.ndim != 3 or photo.shape[2] != 3:
        raise ValueError(f"`photo` must be an (H, W, 3) RGB image; received shape {photo.shape}")
    photo_face = mesh.detect(photo)
    if photo_face is None:
        raise NoFaceError(name, "the face mesh finds no face in it")
    return photo, photo_face


def _check(photo, photo_face, mesh, dub_photo, workdir, seconds, seed, speech="formant"):
    """(report, dubbed frames, their lip gaps) for one photo located by `_located`; `dub_photo` from `load_dubber`."""
    waveform = synthesize(seconds, seed, speech)
    photo_path, audio_path = _write_inputs(photo, waveform, workdir)
    dubbed_path = os.path.join(workdir, "dubbed.mp4")
    dub_photo(photo_path, audio_path, dubbed_path, progress=False)
    frames = video.read_frames(dubbed_path)
    # The baseline: the photo unchanged, through the same encoder.
    unchanged_path = os.path.join(workdir, "unchanged.mp4")
    video.write_video(unchanged_path, [photo] * len(frames), audio=waveform)
    unchanged = video.read_frames(unchanged_path)
    masks = {
        "psnr_outside_lips_db": outside_lips_mask(photo.shape, photo_face.landmarks),
        "psnr_outside_lower_face_db": outside_mouth_mask(photo.shape, photo_face.landmarks),
    }
    loudness = loudness_per_frame(waveform, len(frames))
    gaps = _lip_gaps(frames, mesh, photo_face)
    report = measure(frames, photo, masks, gaps, loudness)
    unchanged_gaps = _lip_gaps(unchanged, mesh, photo_face)
    baseline = measure(unchanged, photo, masks, unchanged_gaps, loudness_per_frame(waveform, len(unchanged)))
    report["lip_gap"]["photo"] = lip_gap(photo_face.landmarks)
    report["face_box"] = [round(float(value), 1) for value in photo_face.box]
    report["mask_pixels"] = int(masks["psnr_outside_lips_db"].sum())
    report["baseline_photo_unchanged"] = {
        **{name: baseline[name] for name in masks},  # the H.264 ceiling
        "lip_gap_loudness_correlation": baseline["lip_gap_loudness_correlation"],
        "lip_gap_std": baseline["lip_gap"]["std"],  # the mesh's jitter on a still mouth
    }
    return report, frames, gaps


def check_photo(photo, model, workdir, seconds=4.0, seed=0, speech="formant"):
    """Dub `photo` (RGB) with `seconds` of speech synthesized from `seed`, and measure the result.

    `model`: a generator or mouth-motion model's path, or a loaded generator backend; `speech`
    as `synthesize` takes it. Writes photo.png,
    speech.wav, dubbed.mp4 and unchanged.mp4 (the baseline) to `workdir`. Returns a dict:
    psnr_outside_lips_db and psnr_outside_lower_face_db (means over frames, against the photo, on
    `outside_lips_mask` and `outside_mouth_mask` of the photo's landmarks),
    lip_gap_loudness_correlation (Pearson, over the frames with landmarks),
    correlation_chance_level (the |r| that unrelated series of that length reach 5% of the time),
    lip_gap {min, max, std, photo}, frames, frames_with_landmarks, mask_pixels, face_box (the mesh's, in the photo) and
    baseline_photo_unchanged {both PSNRs, lip_gap_loudness_correlation, lip_gap_std}.
    """
    mesh = faces.CNNDetector()
    return _check(*_located(photo, mesh), mesh, load_dubber(model)[0], workdir, seconds, seed, speech)[0]


# --------------------------------------------------------------------------- all photos
def face_crop(image, box, size=SHEET_HEIGHT):
    """A square of the face (the mesh's box grown by half) scaled to `size`."""
    x0, y0, x1, y1 = box
    center, side = np.array([(x0 + x1) / 2, (y0 + y1) / 2]), 1.5 * max(x1 - x0, y1 - y0)
    scale = size / side
    matrix = np.array([[scale, 0, size / 2 - center[0] * scale], [0, scale, size / 2 - center[1] * scale]])
    return cv2.warpAffine(image, matrix, (size, size), flags=cv2.INTER_AREA, borderMode=cv2.BORDER_CONSTANT)


def labelled_tile(tile, text):
    tile = tile.copy()
    cv2.putText(tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(tile, text, (4, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    return tile


def apart(order, count, spacing=SHEET_SPACING):
    """The first `count` indices of `order` that lie at least `spacing` from every one taken before."""
    taken = []
    for index in order:
        if len(taken) < count and all(abs(index - other) >= spacing for other in taken):
            taken.append(index)
    return taken


def contact_row(photo, box, frames, gaps):
    """The photo's face, then the dubbed frames with the lowest and the highest lip gaps (each SHEET_SPACING frames
    from the others of its kind), side by side."""
    order = [int(index) for index in np.argsort(gaps) if not np.isnan(gaps[index])]
    lowest = apart(order, SHEET_EXTREMES)
    picks = lowest + apart([index for index in order[::-1] if index not in lowest], SHEET_EXTREMES)[::-1]
    tiles = [labelled_tile(face_crop(photo, box), "photo")]
    tiles += [labelled_tile(face_crop(frames[index], box), f"#{index} gap {gaps[index]:.3f}") for index in picks]
    return np.concatenate(tiles, axis=1)


def check_photos(model, out, seconds=4.0, seed=0, photos=None, speech="formant"):
    """`check_photo` on every photo of `photos` (name -> RGB image; default `real_photos()`);
    writes out/photo_check.json and out/contact_sheet.png.

    The generator is loaded once; each photo works in out/NAME. Returns the report.
    """
    photos = real_photos() if photos is None else photos
    if not photos:
        raise ValueError("`photos` must hold at least one photo; received none")
    mesh = faces.CNNDetector()
    located = {name: _located(photo, mesh, name) for name, photo in photos.items()}  # before any work: a bad photo leaves nothing
    dub_photo, backend = load_dubber(model)
    os.makedirs(out, exist_ok=True)
    report = {
        "seconds": seconds,
        "seed": seed,
        "speech": speech,
        "backend": backend,
        "psnr_target_db": PSNR_TARGET_DB,
        "photos": {},
    }
    rows = []
    for name, (photo, photo_face) in located.items():
        result, frames, gaps = _check(photo, photo_face, mesh, dub_photo, os.path.join(out, name), seconds, seed, speech)
        report["photos"][name] = result
        rows.append(contact_row(photo, result["face_box"], frames, gaps))
    width = max(row.shape[1] for row in rows)
    sheet = np.concatenate([np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0))) for row in rows])
    cv2.imwrite(os.path.join(out, "contact_sheet.png"), np.ascontiguousarray(sheet[:, :, ::-1]))
    with open(os.path.join(out, "photo_check.json"), "w") as handle:
        json.dump(report, handle, indent=2)
    return report


def format_photo_check(report):
    """Lines to print: per photo, the PSNRs outside the lips and outside the lower face against the target and
    the codec's ceiling, and the lip-gap correlation. The own-pixels mouth moves the chin and jaw as it opens, so
    for it only the PSNR outside the lower face is held to the target."""
    target = report.get("psnr_target_db", PSNR_TARGET_DB)
    moves_jaw = report.get("backend") == own_pixels.BACKEND
    lines = [
        f"  {'photo':14s} {'PSNR out. lips':>14s} {'out. lower face':>15s} {'codec ceiling':>13s} {'corr(gap, loud)':>15s} "
        f"{'gap min-max':>13s} {'landmarks':>10s}"
    ]

    def psnr(value, width, judged=True):
        verdict = ("ok" if value >= target else f"< {target:.0f}") if judged else ""
        return f"{value:{width}.2f} dB {verdict:>4s}"

    for name, result in report["photos"].items():
        gap = result["lip_gap"]
        span = f"{gap['min']:.3f}-{gap['max']:.3f}" if gap["min"] is not None else "-"
        lower_face = result.get("psnr_outside_lower_face_db")  # not in reports written before 2026-12-06
        lines.append(
            f"  {name:14s} {psnr(result['psnr_outside_lips_db'], 6, judged=not moves_jaw)} "
            f"{psnr(lower_face, 7) if lower_face is not None else '-':>15s} "
            f"{result['baseline_photo_unchanged']['psnr_outside_lips_db']:10.2f} dB "
            f"{result['lip_gap_loudness_correlation']:15.3f} {span:>13s} "
            f"{result['frames_with_landmarks']:>4d}/{result['frames']:<5d}"
        )
    if moves_jaw:
        lines.append(f"  (the own-pixels mouth moves the chin: the {target:.0f} dB bar is outside the lower face)")
    return lines
