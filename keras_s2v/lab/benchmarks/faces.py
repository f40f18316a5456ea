"""`bench faces`: detection and tracking."""

import time

from keras_s2v.lab.benchmarks.timing import median_time


def bench_faces(work, repeats=3, frames_per_clip=25):
    """Recall and ms per 720p frame of the face detectors, searching every frame or tracking.

    Clips: real photographs (keras_s2v.media.photos) with faces of 80 to 300 px crossing a 720p
    frame; a frame counts when the face found is within a quarter face of the true centre.
    """
    import numpy as np

    from keras_s2v import faces
    from keras_s2v.media import photos

    images = photos.real_photos()
    moves = [
        (80, (150, 150), (1100, 560)),
        (100, (1280 - 160, 140), (260, 600)),
        (150, (300, 500), (900, 250)),
        (300, (400, 360), (880, 360)),
    ]
    clips = [
        (px, *photos.photo_frames(images[name], box, px, photos.line_path(start, end, frames_per_clip)))
        for px, start, end in moves
        for name, box in photos.PHOTO_FACES.items()
    ]
    lines = [
        "## Faces: detection, tracking and alignment",
        "",
        f"{len(clips)} clips of {frames_per_clip} frames at 1280x720: two real photographs, faces of 80 to 300 px moving "
        f"{min(np.hypot(*np.subtract(e, s)) for _, s, e in moves) / frames_per_clip:.0f} to "
        f"{max(np.hypot(*np.subtract(e, s)) for _, s, e in moves) / frames_per_clip:.0f} px per frame. "
        "Recall: frames whose face is found within a quarter face of the true centre. "
        "ms: median per frame over the run (detection and tracking apart).",
        "",
        "| detector | mode | recall 80 px | recall 100 px | recall 150 px | recall 300 px | detections | ms per detection | ms per tracked frame |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for spec, tracking in (("cnn", True), ("cnn", False), ("haar", False)):
        detector = faces.make_detector(spec)
        hits, detect_times, track_times = {}, [], []
        for px, frames, centers in clips:
            tracker = faces.FaceTracker(detector, hold=0)
            for frame, center in zip(frames, centers):
                start, before = time.perf_counter(), tracker.detections
                face = tracker.update(frame) if tracking else detector.detect(frame)
                spent = time.perf_counter() - start
                (track_times if tracking and tracker.detections == before else detect_times).append(spent)
                found = face is not None and np.hypot(*((face.box[:2] + face.box[2:]) / 2 - center)) < px / 4
                hits.setdefault(px, []).append(found)
        recall = " | ".join(f"{np.mean(hits[px]):.1%}" for px, *_ in moves)
        tracked = f"{1000 * np.median(track_times):.1f}" if track_times else "-"
        lines.append(
            f"| {spec} | {'track' if tracking else 'detect every frame'} | {recall} | {len(detect_times)} | "
            f"{1000 * np.median(detect_times):.1f} | {tracked} |"
        )
    lines += [
        "",
        "Cropping and pasting back one 720p frame (`crop_face`, `paste_face`), median ms:",
        "",
        "| face px | crop_face | paste_face |",
        "|---|---|---|",
    ]
    detector = faces.make_detector("cnn")
    for px, frames, _ in clips[::2]:
        face = detector.detect(frames[0])
        crop, alignment = faces.crop_face(frames[0], face)
        crop_ms = 1000 * median_time(lambda: faces.crop_face(frames[0], face), 5 * repeats)
        paste_ms = 1000 * median_time(lambda: faces.paste_face(frames[0], crop, alignment, face), 5 * repeats)
        lines.append(f"| {px} | {crop_ms:.2f} | {paste_ms:.1f} |")
    return lines
