"""The generator's trainer: a keras.Model holding the generator and the frozen SyncNet.

Each step runs the generator, takes the lower half of its frames, scores them with the
frozen expert against the window's MFCC, and minimises docs/design.md (the loss):

    L = (1 - s_w) * L1(frames, target) + s_w * E_sync,   E_sync = mean(-log P_sync)

L1 may weigh the lower half more (`mouth_weight`) and add the L1 of the mouth's change from
frame to frame (`motion_weight`): a mouth drawn the same in all five frames of a window
costs that term its full size, so it teaches the timing inside a window that the expert
(negatives >= 5 frames away) cannot. `gradient_weight` adds the L1 between the generated and
the real edges of the lower half (its horizontal and vertical differences), which a blurred
mouth pays and a sharp one does not.

With `symmetric_sync` (the default) E_sync is the mean over each window and the same window
played backwards (frames and MFCC reversed). A generator that draws about one mouth per
window takes its timing from the expert, and an expert weighs the five frames of a window
unevenly: the seed-0 demo's expert was as sure of a still window of frame 1 as of frame 2, so
its generator drew each mouth half a frame late (AV offset -1). Played backwards, the frames'
weights swap ends, so the mean weighs them symmetrically about the centre frame, which is the
frame `s2v dub` takes from each window (docs/experiments.md).

With `gan_weight` g_w > 0 a visual-quality discriminator D (Wav2Lip+GAN,
keras_s2v.models.discriminator) trains beside the generator, and the loss is Wav2Lip's:

    L = (1 - s_w - g_w) * L1 + s_w * E_sync + g_w * E_adv,   E_adv = mean(-log D(generated mouths))

After each generator update, D takes one step on BCE(D(real mouths), 1) + BCE(D(generated), 0).
With `starved_sync_weight` w > 0, windows whose P_sync is under STARVED_P_SYNC get a pull with
no value: w times the gradient of the cosine between the audio embedding and the video
embedding before its ReLU. The expert's embeddings are ReLU outputs, so where the two are active
on disjoint units P_sync is exactly 0 and -log P_sync gives no gradient; early in phase 1 that
was up to half of the windows, and with some experts the sync term took hold only late
(docs/experiments.md, "A gradient for the windows at P_sync 0").
"""

import keras
import tensorflow as tf

from keras_s2v.errors import ModelError
from keras_s2v.models.discriminator import build_quality_discriminator
from keras_s2v.models.speech2vid import blended_parts
from keras_s2v.models.syncnet import embedding_models, video_embedding_before_relu
from keras_s2v.training.recipe import check_loss_weights
from keras_s2v.windows import frame_changes, image_gradients, mouths, reversed_in_time

STARVED_P_SYNC = 0.05  # below it a window gets the starved-sync pull
P_SYNC_FLOOR = 1e-7  # keeps -log(P_sync) finite when the expert says 0, and -log(D) when D does
DISCRIMINATOR_BETA_1 = 0.5  # Wav2Lip's Adam for its discriminator
TERMS = ("loss", "l1", "e_sync", "p_sync", "objective")
GAN_TERMS = ("gan_adversarial", "gan_discriminator")  # logged only with a discriminator
WARP_BLUR = 9  # pixels of the box blur in the warp's own L1
BLEND_AREA_WEIGHT = 0.1  # per unit of mean alpha; the lower face pays 1 + 2 x mouth_weight per unit of L1


def check_compatible(generator, syncnet, syncnet_path="syncnet"):
    """Refuse an expert whose inputs do not take the generator's mfcc and lower-half frames."""
    try:
        mfcc, frames = generator.input["mfcc"].shape[1:], generator.output.shape[1:]
        expected = {"mfcc": tuple(mfcc), "mouths": (frames[0] - frames[0] // 2, *frames[1:])}
        received = {name: tuple(syncnet.input[name].shape[1:]) for name in expected}
    except (AttributeError, KeyError, TypeError):
        raise ModelError(syncnet_path, "not a SyncNet: expected inputs named 'mfcc' and 'mouths'") from None
    if received != expected:
        raise ModelError(syncnet_path, f"SyncNet inputs {received} do not match the generator's {expected}")


def _sync_and_embeddings(syncnet):
    """A model of `syncnet`'s weights: {mfcc, mouths} -> (P_sync, audio embedding, video embedding before its
    ReLU), from one pass through each encoder: the starved-sync pull reads the embeddings P_sync came from,
    rather than running the expert a second time."""
    try:
        audio_encoder, video_encoder = embedding_models(syncnet)
        video_dense = video_embedding_before_relu(video_encoder)
        video_relu, probability = video_encoder.get_layer("video_encoder_embedding"), syncnet.get_layer("p_sync")
    except ValueError:
        raise ModelError("syncnet", "no audio_encoder / video_encoder_dense layers to pull starved windows through") from None
    mfcc, mouths_input = (keras.Input(syncnet.input[name].shape[1:], name=name) for name in ("mfcc", "mouths"))
    audio, video = audio_encoder(mfcc), video_dense(mouths_input)
    return keras.Model({"mfcc": mfcc, "mouths": mouths_input}, [probability([video_relu(video), audio]), audio, video])


def edge_error(generated, real):
    """mean |grad generated - grad real| over (..., H, W, C) windows, the two directions weighing alike."""
    (generated_down, generated_across), (real_down, real_across) = image_gradients(generated), image_gradients(real)
    return 0.5 * (tf.reduce_mean(tf.abs(generated_down - real_down)) + tf.reduce_mean(tf.abs(generated_across - real_across)))


def _minus_log(probability):
    return -tf.math.log(tf.maximum(probability, P_SYNC_FLOOR))


@keras.saving.register_keras_serializable(package="keras_s2v")
class Speech2VidTrainer(keras.Model):
    """Trains `generator` through the frozen `syncnet`; save `trainer.generator`, not the trainer.

    Args:
        generator: a Speech2Vid functional model (inputs mfcc, identity -> frames).
        syncnet: a trained SyncNet (inputs mfcc, mouths -> p_sync); frozen here.
        sync_weight: s_w in [0, 1]; a variable, so a callback can hold it at 0 during warm-up.
        mouth_weight: extra L1 weight on the lower half of the frames (0 = plain L1).
        motion_weight: weight of the L1 between the generated and the real frame-to-frame
            change of the lower half.
        gradient_weight: weight of the L1 between the generated and the real horizontal and
            vertical differences of the lower half (its edges), within each frame.
        gan_weight: g_w >= 0, with s_w + g_w <= 1: weight of the adversarial term; 0 trains no
            discriminator and logs no GAN terms.
        discriminator: the visual-quality discriminator (inputs mouths -> real); with
            `gan_weight` > 0 and None, one of `discriminator_preset` is built. Never part of
            `trainer.generator`.
        discriminator_preset: its size, "small" or "tiny" (keras_s2v.models.presets).
        discriminator_learning_rate: its Adam rate (beta_1 0.5, as Wav2Lip).
        symmetric_sync: E_sync over each window and its time reversal (module docstring).
        starved_sync_weight: weight of the pull on windows with P_sync < STARVED_P_SYNC
            (module docstring); 0 turns it off.
    """

    def __init__(
        self,
        generator,
        syncnet,
        sync_weight=0.03,
        mouth_weight=0.0,
        motion_weight=0.0,
        gradient_weight=0.0,
        gan_weight=0.0,
        discriminator=None,
        discriminator_preset="small",
        discriminator_learning_rate=1e-4,
        symmetric_sync=True,
        starved_sync_weight=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if not 0.0 <= sync_weight <= 1.0:
            raise ValueError(f"`sync_weight` must be in [0, 1]; received {sync_weight}")
        if mouth_weight < 0:
            raise ValueError(f"`mouth_weight` must be >= 0; received {mouth_weight}")
        if motion_weight < 0:
            raise ValueError(f"`motion_weight` must be >= 0; received {motion_weight}")
        if gradient_weight < 0:
            raise ValueError(f"`gradient_weight` must be >= 0; received {gradient_weight}")
        if gan_weight < 0:
            raise ValueError(f"`gan_weight` must be >= 0; received {gan_weight}")
        if starved_sync_weight < 0:
            raise ValueError(f"`starved_sync_weight` must be >= 0; received {starved_sync_weight}")
        check_loss_weights(sync_weight, gan_weight)
        if not discriminator_learning_rate > 0:
            raise ValueError(f"`discriminator_learning_rate` must be > 0; received {discriminator_learning_rate}")
        if discriminator is not None and not gan_weight:
            raise ValueError(f"a `discriminator` trains only with `gan_weight` > 0; received gan_weight={gan_weight}")
        check_compatible(generator, syncnet)
        self.generator = generator
        self.syncnet = syncnet
        self.syncnet.trainable = False
        self.mouth_weight = mouth_weight
        self.motion_weight = motion_weight
        self.gradient_weight = gradient_weight
        self.gan_weight = gan_weight
        self.symmetric_sync = bool(symmetric_sync)
        self.starved_sync_weight = starved_sync_weight
        self.sync_embeddings = _sync_and_embeddings(syncnet) if starved_sync_weight else None
        self.discriminator_preset = discriminator_preset
        self.discriminator_learning_rate = discriminator_learning_rate
        self.sync_weight = self.add_weight(
            name="sync_weight", shape=(), initializer=keras.initializers.Constant(sync_weight), trainable=False
        )
        self.discriminator, self.discriminator_optimizer = None, None
        if gan_weight:
            self._add_discriminator(build_quality_discriminator(discriminator_preset) if discriminator is None else discriminator)
        self.built = True  # every sub-model is a built functional model
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in TERMS + (GAN_TERMS if self.discriminator is not None else ())
        }

    def _add_discriminator(self, discriminator):
        expected = tuple(self.syncnet.input["mouths"].shape[1:])
        if tuple(discriminator.input.shape[1:]) != expected:
            raise ValueError(
                f"the discriminator must take the mouths {expected}; received {tuple(discriminator.input.shape[1:])}"
            )
        self.discriminator = discriminator
        optimizer = keras.optimizers.Adam(self.discriminator_learning_rate, beta_1=DISCRIMINATOR_BETA_1)
        if self.dtype_policy.name == "mixed_float16":  # as compile() wraps the generator's optimizer
            optimizer = keras.optimizers.LossScaleOptimizer(optimizer)
        # Built now, under the caller's strategy scope, so that BackupAndRestore finds its
        # variables to load into before the first step: an attribute of the trainer, its state
        # is saved with the trainer's weights.
        optimizer.build(discriminator.trainable_variables)
        self.discriminator_optimizer = optimizer

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def objective_terms(self, inputs, target, training):
        """(loss, {l1, e_sync, p_sync, objective, and gan_adversarial with a discriminator}) for one batch."""
        loss, parts, _ = self._objective(inputs, target, training)
        return loss, parts

    def _objective(self, inputs, target, training):
        """objective_terms and the generated frames (float32)."""
        frames, core = blended_parts(self.generator, inputs, training=training)
        frames = tf.cast(frames, tf.float32)
        error = tf.abs(frames - target)
        l1 = tf.reduce_mean(error) + self.mouth_weight * tf.reduce_mean(mouths(error))
        if core is not None:
            l1 += self._blend_terms(tf.cast(core["frames"], tf.float32), tf.cast(core["alpha"], tf.float32), target)
            if "warped" in core:
                l1 += self._warp_terms(tf.cast(core["warped"], tf.float32), target)
        if self.motion_weight:
            motion_error = tf.abs(frame_changes(mouths(frames)) - frame_changes(mouths(target)))
            l1 += self.motion_weight * tf.reduce_mean(motion_error)
        if self.gradient_weight:
            l1 += self.gradient_weight * edge_error(mouths(frames), mouths(target))
        mfcc, generated_mouths = inputs["mfcc"], mouths(frames)
        if self.symmetric_sync:  # one call on twice the batch: forwards, then backwards
            backwards_mfcc, backwards_mouths = reversed_in_time(mfcc, generated_mouths)
            mfcc = tf.concat([mfcc, backwards_mfcc], axis=0)
            generated_mouths = tf.concat([generated_mouths, backwards_mouths], axis=0)
        sync_inputs = {"mfcc": mfcc, "mouths": generated_mouths}
        sync_term = 0.0
        if self.sync_embeddings is None:
            p_sync = tf.cast(self.syncnet(sync_inputs, training=False), tf.float32)
        else:
            p_sync, audio, video = (tf.cast(x, tf.float32) for x in self.sync_embeddings(sync_inputs, training=False))
            sync_term = self.starved_sync_weight * self._starved_sync_pull(audio, video, p_sync)
        e_sync = tf.reduce_mean(_minus_log(p_sync))
        sync_term += e_sync
        weight = tf.cast(self.sync_weight, tf.float32)
        parts = {"l1": l1, "e_sync": e_sync, "p_sync": tf.reduce_mean(p_sync), "objective": l1 + e_sync}
        if self.discriminator is None:
            return (1.0 - weight) * l1 + weight * sync_term, parts, frames
        adversarial = tf.reduce_mean(_minus_log(self._real(mouths(frames), training)))
        parts["gan_adversarial"] = adversarial
        loss = (1.0 - weight - self.gan_weight) * l1 + weight * sync_term + self.gan_weight * adversarial
        return loss, parts, frames

    @staticmethod
    def _starved_sync_pull(audio, video, p_sync):
        """0 in value; its gradient raises, for windows with P_sync < STARVED_P_SYNC, the cosine
        between the `audio` embedding and the `video` embedding before its ReLU."""
        cosine = tf.reduce_sum(tf.math.l2_normalize(audio, -1) * tf.math.l2_normalize(video, -1), axis=-1)
        starved = tf.cast(p_sync[:, 0] < STARVED_P_SYNC, tf.float32)
        return -tf.reduce_mean(starved * (cosine - tf.stop_gradient(cosine)))

    def _real(self, windows, training):
        """D's probabilities that `windows` are real, in float32 whatever the policy."""
        return tf.cast(self.discriminator(windows, training=training), tf.float32)

    def discriminator_loss(self, real_mouths, generated_mouths, training=False):
        """BCE(D(real), 1) + BCE(D(generated), 0), each the mean over frames and patches."""
        real = self._real(real_mouths, training)
        generated = self._real(generated_mouths, training)
        return tf.reduce_mean(_minus_log(real)) + tf.reduce_mean(_minus_log(1.0 - generated))

    @staticmethod
    def _blend_terms(painted, alpha, target):
        """The terms of a blending generator (keras_s2v.models.speech2vid.ReferenceBlend).

        The L1 of the painted frames over the whole face keeps the core drawing the face's
        colours: trained through the blend alone, it left a grey blob at the mouth. The area
        term makes the blend paint only where the reference cannot serve, so a real face keeps
        its own skin (docs/experiments.md).
        """
        return tf.reduce_mean(tf.abs(painted - target)) + BLEND_AREA_WEIGHT * tf.reduce_mean(alpha)

    @staticmethod
    def _warp_terms(warped, target):
        """The L1 of the warped composite's mouths, sharp and blurred over WARP_BLUR pixels.

        Through the blend alone the flow learned shifts under half a pixel: where alpha paints,
        the warp gets little gradient, and a bilinear warp sees only the edges within a pixel of
        where it samples. Its own L1 gives it the whole gradient, and the blurred L1 reaches
        lips a few pixels away (docs/experiments.md)."""
        warped, target = mouths(warped), mouths(target)
        blurred = [tf.nn.avg_pool2d(x, WARP_BLUR, 1, "SAME") for x in (warped, target)]
        return tf.reduce_mean(tf.abs(warped - target)) + tf.reduce_mean(tf.abs(blurred[0] - blurred[1]))

    def _update(self, loss, parts):
        self.trackers["loss"].update_state(loss)
        for name, value in parts.items():
            self.trackers[name].update_state(value)
        logs = {name: tracker.result() for name, tracker in self.trackers.items()}
        if isinstance(self.distribute_strategy, tf.distribute.MultiWorkerMirroredStrategy):
            # Keras 3.15 reduces logs across workers along axis 0, which scalars lack.
            logs = {name: tf.reshape(value, [1]) for name, value in logs.items()}
        return logs

    def _maybe_symbolic_build(self, iterator=None, data_batch=None):
        # Keras 3.15 reduces a sample batch across replicas here, which fails for dict inputs
        # under MultiWorkerMirroredStrategy. Every sub-model is built, and the discriminator's
        # optimizer with it; only the generator's still needs its variables, created under the
        # strategy's scope.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.generator.trainable_variables)

    def train_step(self, data):
        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        # Per-replica means divided by the replica count: the summed gradients are the global mean.
        replicas = tf.distribute.get_strategy().num_replicas_in_sync
        with tf.GradientTape() as tape:
            loss, parts, frames = self._objective(inputs, target, training=True)
            scaled = self.optimizer.scale_loss(loss / replicas)
        variables = self.generator.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        if self.discriminator is not None:
            # On the frames of this step's generator, before its update, as Wav2Lip does.
            parts["gan_discriminator"] = self._train_discriminator(mouths(target), mouths(tf.stop_gradient(frames)), replicas)
        return self._update(loss, parts)

    def _train_discriminator(self, real_mouths, generated_mouths, replicas):
        with tf.GradientTape() as tape:
            loss = self.discriminator_loss(real_mouths, generated_mouths, training=True)
            scaled = self.discriminator_optimizer.scale_loss(loss / replicas)
        variables = self.discriminator.trainable_variables
        self.discriminator_optimizer.apply(tape.gradient(scaled, variables), variables)
        return loss

    def test_step(self, data):
        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        loss, parts, frames = self._objective(inputs, target, training=False)
        if self.discriminator is not None:  # reported, never trained on validation windows
            parts["gan_discriminator"] = self.discriminator_loss(mouths(target), mouths(frames))
        return self._update(loss, parts)

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "syncnet": keras.saving.serialize_keras_object(self.syncnet),
            "sync_weight": float(self.sync_weight.numpy()),
            "mouth_weight": self.mouth_weight,
            "motion_weight": self.motion_weight,
            "gradient_weight": self.gradient_weight,
            "gan_weight": self.gan_weight,
            "discriminator": None if self.discriminator is None else keras.saving.serialize_keras_object(self.discriminator),
            "discriminator_preset": self.discriminator_preset,
            "discriminator_learning_rate": self.discriminator_learning_rate,
            "symmetric_sync": self.symmetric_sync,
            "starved_sync_weight": self.starved_sync_weight,
        }

    @classmethod
    def from_config(cls, config):
        for name in ("generator", "syncnet", "discriminator"):
            if config.get(name) is not None:
                config[name] = keras.saving.deserialize_keras_object(config[name])
        return cls(**config)
