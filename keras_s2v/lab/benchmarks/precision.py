"""`bench precision`: float32 against bfloat16, stage by stage, on this machine's CPU."""

import numpy as np

from keras_s2v.lab.benchmarks.timing import median_time

CPU_FEATURES = (("AVX-512", "avx512f"), ("AVX512-BF16", "avx512_bf16"), ("AMX", "amx_bf16"))
STEP_REPEATS = 5  # training steps are short: more repeats than the section's


def _random_windows(model, batch, rng):
    return {tensor.name: rng.random((batch, *tensor.shape[1:])).astype("float32") for tensor in model.inputs}


def _syncnet_step(policy, rng):
    from keras_s2v.models import build_syncnet
    from keras_s2v.precision import computing_in
    from keras_s2v.training.build import compile_syncnet

    with computing_in(policy):
        syncnet = compile_syncnet(build_syncnet("small"))
    inputs = _random_windows(syncnet, 32, rng)
    labels = rng.integers(0, 2, (32, 1)).astype("float32")
    return lambda: syncnet.train_on_batch(inputs, labels)


def _generator_step(policy, rng, gan_weight):
    import keras

    from keras_s2v.models import build_speech2vid, build_syncnet
    from keras_s2v.precision import computing_in
    from keras_s2v.training.recipe import get_recipe
    from keras_s2v.training.trainer import Speech2VidTrainer

    recipe = get_recipe("synthetic-small")
    with computing_in(policy):
        generator = build_speech2vid(recipe.generator_preset, conditioning=recipe.conditioning)
        trainer = Speech2VidTrainer(
            generator, build_syncnet("small"), sync_weight=recipe.sync_weight, mouth_weight=2.0, gan_weight=gan_weight
        )
        trainer.compile(optimizer=keras.optimizers.Adam(1e-4))
    inputs = _random_windows(generator, recipe.batch_size, rng)
    target = rng.random((recipe.batch_size, *generator.output.shape[1:])).astype("float32")
    return lambda: trainer.train_on_batch(inputs, target)


def _forward(preset, policy):
    """(float32 model, its twin computing in `policy` with the same weights) of the generator `preset`."""
    from keras_s2v.models import build_speech2vid
    from keras_s2v.precision import with_policy

    generator = build_speech2vid(preset)
    return generator, with_policy(generator, policy)


def _timed(make_step, repeats):
    step = make_step()
    step()  # traced and compiled outside the timing
    return median_time(step, repeats)


def bench_precision(work, repeats=3):
    """Seconds per training step and per forward pass in float32 and in mixed bfloat16, and the
    bfloat16 forward pass's PSNR against float32's."""
    import tensorflow as tf

    from keras_s2v.export.exporter import psnr
    from keras_s2v.precision import PRECISIONS, cpu_flags, inference_policy, resolve_precision

    rng = np.random.default_rng(0)
    bfloat16 = PRECISIONS["bfloat16"]
    lines = [
        "## Precision: float32 against bfloat16",
        "",
        f"`--precision auto` picks **{resolve_precision('auto')}** here: "
        + ", ".join(f"{name} {'yes' if flag in cpu_flags() else 'no'}" for name, flag in CPU_FEATURES)
        + ". "
        "Seconds per call, medians; speed-up = float32 time / bfloat16 time, measured in this run. "
        "Training steps use random windows and untrained models of the `synthetic-small` recipe's sizes "
        "(the SyncNet at batch 32, the generator at its batch 16, phase 2 with the discriminator); "
        "the forward passes share their weights, and PSNR compares the two outputs. "
        "A model that only infers (`s2v dub`'s Keras backend) holds its weights in bfloat16 "
        f"(`{inference_policy(bfloat16)}`); the mixed policy's row shows what its casts cost.",
        "",
        "| stage | float32 s | bfloat16 s | speed-up | PSNR dB, bfloat16 vs float32 |",
        "|---|---|---|---|---|",
    ]
    stages = [
        ("SyncNet `small` training step", lambda policy: _syncnet_step(policy, rng)),
        ("generator `small`, phase 1 training step", lambda policy: _generator_step(policy, rng, 0.0)),
        ("generator `small`, phase 2 training step (discriminator)", lambda policy: _generator_step(policy, rng, 0.07)),
    ]
    for name, make in stages:
        seconds = [_timed(lambda: make(policy), max(repeats, STEP_REPEATS)) for policy in ("float32", bfloat16)]
        lines.append(f"| {name} | {seconds[0]:.3f} | {seconds[1]:.3f} | {seconds[0] / seconds[1]:.2f}x | |")
    forward_passes = [
        ("seed", bfloat16, " (mixed policy: float32 weights cast at every call)"),
        ("seed", inference_policy(bfloat16), ""),
        ("small", inference_policy(bfloat16), ""),
    ]
    for preset, policy, note in forward_passes:
        models = _forward(preset, policy)
        inputs = _random_windows(models[0], 8, rng)
        calls = [tf.function(lambda x, model=model: tf.cast(model(x, training=False), tf.float32)) for model in models]
        outputs = [call(inputs).numpy() for call in calls]
        seconds = [median_time(lambda call=call: call(inputs).numpy(), max(repeats, STEP_REPEATS)) for call in calls]
        lines.append(
            f"| generator `{preset}` forward pass, batch 8{note} | {seconds[0]:.3f} | {seconds[1]:.3f} | "
            f"{seconds[0] / seconds[1]:.2f}x | {psnr(*outputs):.1f} |"
        )
    return lines
