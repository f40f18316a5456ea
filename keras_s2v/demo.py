"""`s2v demo`: the whole system on the built-in synthetic corpus, stage by stage.

Stages so far: synth -> preprocess -> datasets. Training, evaluation, export
and dubbing join as they land (see the README's status section).
"""

import os


def run_demo(out="demo_out", speakers=12, seconds=8.0, seed=0, workers=2):
    from keras_s2v.data.pipelines import generator_dataset, syncnet_dataset
    from keras_s2v.data.preprocess import preprocess
    from keras_s2v.synth import write_corpus

    videos, shards = os.path.join(out, "videos"), os.path.join(out, "shards")
    print(f"[1/3] synthetic corpus: {speakers} speakers -> {videos}")
    write_corpus(videos, speakers=speakers, seconds=seconds, clips_per_speaker=2, seed=seed)
    print(f"[2/3] preprocessing -> {shards}")
    manifest = preprocess(videos, shards, workers=workers, detector="sidecar")
    print(f"[3/3] datasets from {shards}")
    (sync_inputs, labels) = next(iter(syncnet_dataset(shards, batch_size=32, deterministic=True)))
    (gen_inputs, target) = next(iter(generator_dataset(shards, batch_size=8, deterministic=True)))
    rows = [
        ("clips (train/val/test)", "/".join(str(manifest["clips_per_split"][s]) for s in ("train", "val", "test"))),
        ("windows (train/val/test)", "/".join(str(manifest["windows"][s]) for s in ("train", "val", "test"))),
        ("skipped files", str(len(manifest["skipped"]))),
        ("syncnet batch", f"mfcc {tuple(sync_inputs['mfcc'].shape)}, mouths {tuple(sync_inputs['mouths'].shape)}, "
         f"positives {int(labels.numpy().sum())}/{labels.shape[0]}"),
        ("generator batch", f"mfcc {tuple(gen_inputs['mfcc'].shape)}, identity {tuple(gen_inputs['identity'].shape)}, "
         f"target {tuple(target.shape)}"),
    ]
    print()
    for name, value in rows:
        print(f"  {name:26s} {value}")
    print(f"\nfiles: clips in {videos}, shards and manifest.json in {shards}")
    print("next stages (training, evaluation, export, dubbing) are not built yet")
    return manifest
