"""`s2v demo`: the whole system on the built-in synthetic corpus, stage by stage.

synth -> preprocess -> expert and evaluation SyncNets -> generator -> evaluate -> export
-> dub a held-out clip with the TFLite model and the SavedModel -> dub real photographs the
model never saw (keras_s2v.evaluation.photo_check) -> train the mouth-motion model and dub the same photos
with the person's own mouth and espeak-ng speech (keras_s2v.dubbing.own_pixels). Each stage keeps its output, so an interrupted demo
continues where it stopped; `claim_folder` keeps a folder to one recipe, seed and size.
"""

import glob
import json
import os
import time

# Every training number is the recipe's (keras_s2v.training.recipe): "full" trains with the
# recipe of TRAINING.md, "quick" is a smoke run whose numbers mean nothing. The full corpus
# has many short clips rather than a few long ones: SyncNets trained on 14 faces generalise to
# new faces far better than on 8 (docs/experiments.md, "More faces, shorter clips").
SCALES = {
    "full": {
        "speakers": 20,
        "seconds": 4.5,
        "recipe": "synthetic-small",
        "tflite": ("fp32", "fp16", "int8"),
        "photo_seconds": 4.0,
        "syncnet_warning_below": 0.7,
        "mouth_utterances": 200,
        "mouth_epochs": 12,
    },
    "quick": {
        "speakers": 3,
        "seconds": 2.0,
        "recipe": "smoke",
        "tflite": ("fp32",),
        "photo_seconds": 1.0,
        "syncnet_warning_below": None,
        "mouth_utterances": 8,
        "mouth_epochs": 1,
    },
}
SETTINGS_FILE = "demo_settings.json"
STAGE_OUTPUTS = (
    "videos",
    "shards",
    "expert.keras",
    "evaluator.keras",
    "generator.keras",
    "evaluation",
    "saved_models",
    "dubbed",
    "photos",
    "mouth_motion.keras",
    "photos_own_mouth",
)


def _describe(settings):
    recipe = settings["recipe"]
    clips = f" of {settings['seconds']} s clips" if "seconds" in settings else ""  # not recorded before 2026-12-04
    return (
        f"recipe {recipe['name']} version {recipe['version']}, seed {settings['seed']}, "
        f"{settings['speakers']} speakers{clips}, scale {settings['scale']}"
    )


def claim_folder(out, settings):
    """Record the settings a demo in `out` runs with, or refuse `out` if it holds a demo made with others.

    Every stage keeps what it finds, so a folder of another recipe, seed or release would
    silently mix its models into this demo.
    """
    from keras_s2v.errors import FileError

    settings = json.loads(json.dumps(settings))  # tuples as JSON gives them back
    path = os.path.join(out, SETTINGS_FILE)
    if os.path.exists(path):
        with open(path) as handle:
            recorded = json.load(handle)
        if recorded != settings:
            raise FileError(
                out, f"holds a demo made with {_describe(recorded)}, not {_describe(settings)}; delete it or choose another --out"
            )
        return
    if any(os.path.exists(os.path.join(out, name)) for name in STAGE_OUTPUTS):
        raise FileError(out, "holds a demo made by an earlier keras-s2v; delete it or choose another --out")
    os.makedirs(out, exist_ok=True)
    with open(path, "w") as handle:
        json.dump(settings, handle, indent=2)


def syncnet_warning(name, accuracy, threshold):
    """A warning line when a SyncNet does not tell sync on the test speakers well enough to be trusted, else None.

    Such an expert steers the generator wrong, and such an evaluator grades every clip, the real
    ones too, near chance (docs/experiments.md: 0.60 and 0.64 in one 12-speaker run gave 0.26x).
    """
    if threshold is None or accuracy >= threshold:
        return None
    role = "the generator it steers" if name == "expert" else "every sync score it gives"
    return (
        f"  warning: the {name} SyncNet tells sync from shifted audio only {accuracy:.0%} of the time on the test "
        f"speakers (below {threshold:.0%}): {role} cannot be trusted; try another --seed"
    )


def run_demo(out="demo_out", speakers=None, seed=0, workers=1, scale="full", precision="auto"):
    from keras_s2v.training.recipe import get_recipe

    if scale not in SCALES:
        raise ValueError(f"`scale` must be one of {sorted(SCALES)}; received {scale!r}")
    config = SCALES[scale]
    speakers = config["speakers"] if speakers is None else speakers
    recipe = get_recipe(config["recipe"])
    claim_folder(
        out, {"recipe": recipe.to_config(), "seed": seed, "speakers": speakers, "seconds": config["seconds"], "scale": scale}
    )
    # Only now TensorFlow (5 s to import): a folder of another demo is refused at once.
    from keras_s2v.data.preprocess import preprocess
    from keras_s2v.dubbing.backends import load_backend
    from keras_s2v.dubbing.engine import dub
    from keras_s2v.evaluation.photo_check import check_photos, format_photo_check
    from keras_s2v.evaluation.protocol import evaluate, format_scores
    from keras_s2v.export import export
    from keras_s2v.lab.synth.corpus import write_corpus
    from keras_s2v.saving import load_model, save_model
    from keras_s2v.training.generator_fit import train_recipe_generator
    from keras_s2v.training.mouth_fit import train_mouth_motion, training_set
    from keras_s2v.training.syncnet_fit import sync_accuracy, train_syncnet

    started = time.time()
    paths = {name: os.path.join(out, name) for name in STAGE_OUTPUTS}

    def stage(number, text):
        print(f"[{number}/9 {time.time() - started:5.0f} s] {text}", flush=True)

    stage(1, f"synthetic corpus: {speakers} speakers -> {paths['videos']}")
    if not glob.glob(os.path.join(paths["videos"], "*", "*.mp4")):
        write_corpus(paths["videos"], speakers=speakers, seconds=config["seconds"], clips_per_speaker=2, seed=seed)
    stage(2, f"preprocessing -> {paths['shards']}")
    manifest = preprocess(paths["videos"], paths["shards"], workers=workers, detector="sidecar")

    accuracies, warnings = {}, []
    # Disjoint clips of the training speakers: the evaluator never shares a clip with the expert.
    for name, syncnet in (("expert", recipe.expert), ("evaluator", recipe.evaluator)):
        path = paths[f"{name}.keras"]
        stage(3, f"SyncNet {name}: the {syncnet.clips} clips of the train speakers, validated on val -> {path}")
        if not os.path.exists(path):
            model, _ = train_syncnet(paths["shards"], manifest, syncnet, seed=seed, precision=precision)
            save_model(model, path)
        accuracies[name] = sync_accuracy(load_model(path, "SyncNet"), paths["shards"], "test")
        print(f"  {name} accuracy on the test speakers (aligned vs shifted >= 5 frames): {accuracies[name]:.3f}")
        warning = syncnet_warning(name, accuracies[name], config["syncnet_warning_below"])
        if warning:
            print(warning)
            warnings.append(warning)

    stage(
        4,
        f"generator ({recipe.generator_preset} preset) through the frozen expert, recipe {recipe.name}, "
        f"{len(recipe.phases)} phases -> {paths['generator.keras']}",
    )
    # resume: finished phases are kept and an interrupted one continues, as every stage here.
    train_recipe_generator(
        paths["shards"],
        manifest,
        paths["expert.keras"],
        paths["generator.keras"],
        recipe,
        resume=True,
        seed=seed,
        precision=precision,
    )

    stage(5, f"evaluation with the evaluation SyncNet -> {paths['evaluation']}")
    report = evaluate(
        paths["shards"],
        load_backend(paths["generator.keras"]),
        load_model(paths["evaluator.keras"], "SyncNet"),
        paths["evaluation"],
    )

    stage(6, f"export: SavedModel and TFLite -> {paths['saved_models']}/speech2vid")
    base = os.path.join(paths["saved_models"], "speech2vid")
    exported = export(
        load_model(paths["generator.keras"], "generator"),
        base,
        version=1,
        variants=config["tflite"],
        calibration=paths["shards"],
        force=True,
    )

    stage(7, f"dubbing a held-out clip with the TFLite model and the SavedModel -> {paths['dubbed']}")
    os.makedirs(paths["dubbed"], exist_ok=True)
    test_clips = sorted(glob.glob(os.path.join(paths["videos"], "test", "*.mp4")))
    face, speech = test_clips[0], test_clips[-1]
    dubbed = {}
    for backend, model in (
        ("tflite", os.path.join(exported["path"], "tflite", "serving_default_fp32.tflite")),
        ("savedmodel", base),
    ):
        target = os.path.join(paths["dubbed"], f"dubbed_{backend}.mp4")
        # The demo's shards are cropped by the sidecar's boxes, so its dub crops by boxes too.
        dubbed[backend] = (target, dub(face, speech, model, target, detector="haar"))

    stage(8, f"real photographs the model never saw, dubbed with synthesized speech -> {paths['photos']}")
    photos = check_photos(paths["generator.keras"], paths["photos"], seconds=config["photo_seconds"], seed=seed)

    stage(
        9,
        f"the mouth-motion model on espeak-ng and formant voices -> {paths['mouth_motion.keras']}; the photos "
        f"dubbed with their own mouths and espeak-ng speech -> {paths['photos_own_mouth']}",
    )
    if not os.path.exists(paths["mouth_motion.keras"]):
        windows, targets = training_set(config["mouth_utterances"], seed=seed)
        save_model(train_mouth_motion(windows, targets, epochs=config["mouth_epochs"], seed=seed), paths["mouth_motion.keras"])
    own_mouth = check_photos(
        paths["mouth_motion.keras"], paths["photos_own_mouth"], seconds=config["photo_seconds"], seed=seed, speech="espeak"
    )

    print(f"\nmetrics (evaluation SyncNet, {report['clips']} test clips, face of A driven by the audio of B):")
    print(format_scores(report))
    print(f"  SyncNet accuracy on test speakers: expert {accuracies['expert']:.3f}, evaluator {accuracies['evaluator']:.3f}")
    for warning in warnings:
        print(warning)
    for backend, (_, summary) in dubbed.items():
        print(f"  dub with {backend}: {summary.line()}")
    print("\nreal photographs (PSNR against the photo outside the lips; face-mesh lip gap against loudness per frame):")
    print("\n".join(format_photo_check(photos)))
    print("\nreal photographs with their own mouths, moved by the mouth-motion model to espeak-ng speech:")
    print("\n".join(format_photo_check(own_mouth)))
    print(f"\nfiles ({time.time() - started:.0f} s in all):")
    for label, path in (
        ("clips", paths["videos"]),
        ("shards", paths["shards"]),
        ("SyncNets", paths["expert.keras"] + ", " + paths["evaluator.keras"]),
        ("generator", paths["generator.keras"]),
        ("evaluation", paths["evaluation"]),
        ("export", base),
        ("dubbed videos", paths["dubbed"]),
        ("photographs", paths["photos"]),
        ("mouth motion", paths["mouth_motion.keras"]),
        ("own mouths", paths["photos_own_mouth"]),
    ):
        print(f"  {label:14s} {path}")
    with open(os.path.join(out, "demo_report.json"), "w") as handle:
        json.dump(
            {
                "evaluation": report["scores"],
                "reconstruction": report["reconstruction"],
                "syncnet_test_accuracy": accuracies,
                "photos": photos["photos"],
                "photos_own_mouth": own_mouth["photos"],
                "seconds": round(time.time() - started),
            },
            handle,
            indent=2,
        )
    return report
