"""Commands that deliver a model: `export`, `serve-check`, `dub`, `live`, `web`."""

import os

from keras_s2v.cli.registry import (
    UsageError,
    add_face_detector_argument,
    add_precision_argument,
    add_window_step_argument,
    arguments,
    command,
    positive,
)


# --------------------------------------------------------------------------- export
def _add_export_arguments(parser):
    parser.add_argument("--generator", required=True, help="a trained generator (.keras)")
    parser.add_argument("--out", default="saved_models/speech2vid", help="model base path (default saved_models/speech2vid)")
    parser.add_argument("--version", type=positive(int), help="version folder to write (default: latest + 1)")
    parser.add_argument(
        "--tflite", help="TFLite variants, comma-separated, or 'none' (default fp32,fp16, and int8 when --calibration is given)"
    )
    parser.add_argument(
        "--calibration",
        metavar="SHARDS",
        help="preprocessed shards whose windows calibrate the full-integer int8 variant (needed for int8)",
    )
    parser.add_argument("--force", action="store_true", help="replace the version folder if it exists")


@command("export", "write the SavedModel for TensorFlow Serving and TFLite/LiteRT variants")
@arguments(_add_export_arguments)
def run_export(args):
    """Export a generator as OUT/<version>/ (the layout TF Serving loads) with two signatures,
    serving_default (mfcc, identity, reference -> frames) and from_audio (16 kHz PCM, identity,
    reference -> frames), identity being the raw target window and reference a window of the
    same video at least 5 frames away (a still image: the image itself),
    plus TFLite files of both under OUT/<version>/tflite/ (built-in ops only). Writes
    OUT/export_report.json with each file's size, latency and PSNR against Keras."""
    from keras_s2v.data.manifest import require_folder
    from keras_s2v.dubbing.backends import require_model
    from keras_s2v.model_versions import version_folder

    require_model(args.generator)  # before TensorFlow loads, as `evaluate` does
    if args.calibration:
        require_folder(args.calibration)
    version_folder(args.out, args.version, args.force)  # an existing version too
    from keras_s2v.export import export
    from keras_s2v.saving import load_model

    variants = None if args.tflite is None else [] if args.tflite == "none" else [v for v in args.tflite.split(",") if v]
    generator = load_model(args.generator, "generator")
    report = export(generator, args.out, args.version, variants, args.calibration, args.force)
    print(f"exported version {report['version']} to {report['path']}")
    print(f"  {'file':38s} {'MB':>7s} {'ms (batch 1)':>13s} {'PSNR dB':>8s}")
    for entry in report["files"]:
        name = f"{entry['file'] if entry['file'] != '.' else 'SavedModel'} [{entry['signature']}]"
        print(f"  {name:38s} {entry['bytes'] / 1e6:7.2f} {entry['latency_ms_batch1']:13.1f} {entry['psnr_db_vs_keras']:8.1f}")
    print(f"report: {os.path.join(args.out, 'export_report.json')}")
    return 0


def _add_serve_check_arguments(parser):
    parser.add_argument("base", help="model base path, e.g. saved_models/speech2vid")


@command("serve-check", "show what TensorFlow Serving will load from a model base path")
@arguments(_add_serve_check_arguments)
def run_serve_check(args):
    """List the versions, signatures and tensor shapes that TF Serving will see under a model
    base path. Exits with code 2 if the layout is wrong."""
    from keras_s2v.export.savedmodel import serving_layout

    layout = serving_layout(args.base)
    print(f"model base path {args.base}: versions {sorted(layout)} (TF Serving serves the latest, {max(layout)})")
    for version, signatures in layout.items():
        for name, (inputs, outputs) in signatures.items():
            print(
                f"  {version}/{name}: "
                + ", ".join(f"{k} {v}" for k, v in inputs.items())
                + " -> "
                + ", ".join(f"{k} {v}" for k, v in outputs.items())
            )
    return 0


# --------------------------------------------------------------------------- dub
def _add_dub_arguments(parser):
    parser.add_argument("--face", required=True, help="a face video (any frame rate) or a still image")
    parser.add_argument("--audio", required=True, help="the new speech: wav, flac, mp3, ogg, or a video's audio track")
    parser.add_argument(
        "--model",
        required=True,
        help="a mouth-motion model (.keras, from `s2v train-mouth`): the mouth is the person's own, moved "
        "to the speech; or a generator: a .keras file, a SavedModel folder or model base path (newest "
        "version), or a .tflite file, which paints the mouth",
    )
    parser.add_argument("--out", required=True, help="the mp4 to write (H.264 + AAC, 25 fps)")
    add_face_detector_argument(
        parser,
        ". Use the detector the generator's training shards were made with: "
        "cnn crops are aligned by the landmarks, the others by the box",
    )
    parser.add_argument(
        "--batch-size",
        type=positive(int),
        default=4,
        help="windows per generator call (default 4); larger batches cost memory for a few %% speed",
    )
    add_window_step_argument(parser)
    parser.add_argument(
        "--whole-lower-face",
        action="store_true",
        help="paste the generator's whole lower face, from the nose down; by default (with the cnn "
        "detector's landmarks) the source is kept above the upper lip, which speech hardly moves",
    )
    add_precision_argument(parser)


@command("dub", "lip-sync a face video or image to new speech")
@arguments(_add_dub_arguments)
def run_dub(args):
    """Make the face in --face speak --audio. The face video is looped back and forth to cover
    longer audio, or cut to shorter audio; a still image is animated. Frames where no face is
    found pass through unchanged. The output has the input's resolution and the new audio."""
    from keras_s2v.dubbing.dubber import load_dubber
    from keras_s2v.media import video

    # Before the model loads (TensorFlow alone takes seconds to import), so that a mistyped path fails at once.
    video.require_file(args.face)
    video.require_file(args.audio)
    video.require_output_folder(args.out)

    dub, _ = load_dubber(
        args.model,
        args.face_detector,
        batch_size=args.batch_size,
        window_step=args.window_step,
        keep_above_lips=not args.whole_lower_face,
        precision=args.precision,
    )
    summary = dub(args.face, args.audio, args.out)
    print(summary.line())
    print(f"wrote {args.out}")
    return 0


# --------------------------------------------------------------------------- live
def _add_live_arguments(parser):
    parser.add_argument(
        "--face", required=True, help="a face photo, or a video that plays forward and back for as long as the speech"
    )
    parser.add_argument("--audio", required=True, help="the speech to stream: wav, flac, mp3, ogg, or a video's audio track")
    parser.add_argument(
        "--model",
        required=True,
        help="a mouth-motion model (.keras): the person's own mouth, moved; or a generator (.keras, SavedModel, .tflite)",
    )
    parser.add_argument("--out", required=True, help="the mp4 to write: the frames as a viewer saw them, with the speech")
    add_face_detector_argument(parser)
    add_window_step_argument(parser)
    parser.add_argument(
        "--fixed-step",
        action="store_true",
        help="keep --window-step even when the dub falls behind (by default it moves to a larger step, and back)",
    )
    parser.add_argument(
        "--chunk-ms", type=positive(float), default=20.0, help="how the speech arrives: chunks of this many ms (default 20)"
    )


@command("live", "stream speech through the live dub in real time and write what a viewer saw")
@arguments(_add_live_arguments)
def run_live(args):
    """Play --audio into the live dub (keras_s2v.live.LiveDubber) as a microphone would, in chunks
    of --chunk-ms at the pace of the speech, and write the frames it returned, in order, with the
    speech as the sound track. The summary gives each frame's latency (from the arrival of the speech
    at the frame's middle to the frame) at the median and the 95th percentile, the frames made on the
    cheaper path (a larger window step, taken when the dub falls behind; frames over a second late
    show the frame before again), the frames a second it sustained and how far it drifted. A frame
    waits for the speech its window reads: 0.115 s after its middle with a generator at window step
    1, 0.315 s with a mouth-motion model. It takes as long as the speech lasts."""
    from tqdm.auto import tqdm

    from keras_s2v.geometry import SAMPLE_RATE, VIDEO_FPS
    from keras_s2v.live.realtime import stream_file
    from keras_s2v.media import audio as audio_lib
    from keras_s2v.media import video

    waveform = audio_lib.load_audio(args.audio)
    info = video.probe(args.face)
    writer = video.VideoWriter(args.out, info.width, info.height, audio=waveform)  # checks the output folder first
    bars = []  # shown from the first frame on, so that a photo without a face fails with its one-line error alone

    def write(frame):
        writer.write(frame.image)
        if not bars:
            bars.append(tqdm(total=int(round(len(waveform) / SAMPLE_RATE * VIDEO_FPS)), desc="live", unit="frame", leave=False))
        bars[0].update(1)

    try:
        options = dict(detector=args.face_detector, window_step=args.window_step, adaptive=not args.fixed_step)
        result = stream_file(waveform, args.face, args.model, write, args.chunk_ms / 1000, **options)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    finally:
        for bar in bars:
            bar.close()
    print(result.line())
    print(f"lookahead {1000 * result.lookahead:.0f} ms at window step {args.window_step}; setup {result.setup_seconds:.1f} s")
    print(f"wrote {args.out}")
    return 0


# --------------------------------------------------------------------------- web
def _add_web_arguments(parser):
    parser.add_argument(
        "--model",
        required=True,
        help="a mouth-motion model (.keras, from `s2v train-mouth`: the person's own mouth, moved) or a generator: "
        "a .keras file, a SavedModel folder or model base path, or a .tflite file; for the dub jobs and the Live tab",
    )
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the network)",
    )
    parser.add_argument("--port", type=int, default=7860, help="port to listen on (default 7860)")
    parser.add_argument(
        "--max-upload-mb", type=positive(float), default=100.0, help="size limit of each uploaded file (default 100)"
    )
    parser.add_argument(
        "--max-queued",
        type=positive(int),
        default=8,
        help="jobs that may wait besides the one running (default 8); past that an upload is answered "
        "429 with Retry-After and the page says the server is busy",
    )
    parser.add_argument(
        "--max-minutes",
        type=positive(float),
        default=10.0,
        help="longest face video and speech a job may have, in minutes (default 10); checked before queueing",
    )
    parser.add_argument(
        "--max-work-mb",
        type=positive(float),
        default=2048.0,
        help="cap on the work folder (uploads and results together), in MB (default 2048); an upload that "
        "would pass it is answered 503 with Retry-After",
    )
    add_face_detector_argument(parser, ". Use the detector the generator's training shards were made with")
    parser.add_argument(
        "--workdir", help="folder in which the temporary folder for uploads and results is made (default: the system's)"
    )


@command("web", "serve a web page for dubbing: upload a face and speech, watch and download the result")
@arguments(_add_web_arguments)
def run_web(args):
    """Serve a page at http://HOST:PORT/ where a face video or image and speech (an audio
    file, a video's sound, or a microphone recording) are uploaded and dubbed with --model.
    The page shows progress and the summary line, plays the result and offers it for
    download. Jobs run one at a time in the order they came; a job can be cancelled (DELETE
    /jobs/ID). Uploads and results live in a temporary folder, removed when the server stops;
    results are kept for an hour. The --max-* options bound the queue, the media's duration and
    the disk used. Needs the web extra: pip install 'keras-s2v[web]'."""
    try:
        from keras_s2v.web.app import serve
        from keras_s2v.web.limits import Limits
    except ImportError as error:
        raise UsageError(f"`s2v web` needs the web extra ({error.name} is missing): pip install 'keras-s2v[web]'") from None
    limits = Limits(args.max_upload_mb, args.max_queued, args.max_minutes, args.max_work_mb)
    serve(args.model, args.host, args.port, limits, args.face_detector, args.workdir)
    return 0
