"""The generator's trainer: a keras.Model holding the generator and the frozen SyncNet.

Each step runs the generator, takes the lower half of its frames, scores them with the
frozen expert against the window's MFCC, and minimises architecture.md §4:

    L = (1 - s_w) * L1(frames, target) + s_w * E_sync,   E_sync = mean(-log P_sync)

L1 may weigh the lower half more (`mouth_weight`) and add the L1 of the mouth's change from
frame to frame (`motion_weight`): a mouth drawn the same in all five frames of a window
costs that term its full size, so it teaches the timing inside a window that the expert
(negatives >= 5 frames away) cannot.
"""

import keras
import tensorflow as tf

from keras_s2v.errors import ModelError
from keras_s2v.models.speech2vid import blended_parts
from keras_s2v.windows import frame_changes, mouths

LOSSES = ("l1+sync", "sync")
P_SYNC_FLOOR = 1e-7  # keeps -log(P_sync) finite when the expert says 0
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
    """

    def __init__(self, generator, syncnet, sync_weight=0.03, mouth_weight=0.0, motion_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        if not 0.0 <= sync_weight <= 1.0:
            raise ValueError(f"`sync_weight` must be in [0, 1]; received {sync_weight}")
        if mouth_weight < 0:
            raise ValueError(f"`mouth_weight` must be >= 0; received {mouth_weight}")
        if motion_weight < 0:
            raise ValueError(f"`motion_weight` must be >= 0; received {motion_weight}")
        check_compatible(generator, syncnet)
        self.generator = generator
        self.syncnet = syncnet
        self.syncnet.trainable = False
        self.mouth_weight = mouth_weight
        self.motion_weight = motion_weight
        self.sync_weight = self.add_weight(
            name="sync_weight", shape=(), initializer=keras.initializers.Constant(sync_weight), trainable=False
        )
        self.built = True  # both sub-models are built functional models
        self.trackers = {
            name: keras.metrics.Mean(name=name) for name in ("loss", "l1", "e_sync", "p_sync", "objective")
        }

    def call(self, inputs, training=False):
        return self.generator(inputs, training=training)

    @property
    def metrics(self):
        return list(self.trackers.values())

    def objective_terms(self, inputs, target, training):
        """(loss, {l1, e_sync, p_sync, objective}) for one batch."""
        frames, core = blended_parts(self.generator, inputs, training=training)
        frames = tf.cast(frames, tf.float32)
        error = tf.abs(frames - target)
        l1 = tf.reduce_mean(error) + self.mouth_weight * tf.reduce_mean(mouths(error))
        if core is not None:
            l1 += self._blend_terms(tf.cast(core["frames"], tf.float32), tf.cast(core["alpha"], tf.float32), target)
        if self.motion_weight:
            motion_error = tf.abs(frame_changes(mouths(frames)) - frame_changes(mouths(target)))
            l1 += self.motion_weight * tf.reduce_mean(motion_error)
        p_sync = self.syncnet({"mfcc": inputs["mfcc"], "mouths": mouths(frames)}, training=False)
        p_sync = tf.cast(p_sync, tf.float32)
        e_sync = tf.reduce_mean(-tf.math.log(tf.maximum(p_sync, P_SYNC_FLOOR)))
        weight = tf.cast(self.sync_weight, tf.float32)
        loss = (1.0 - weight) * l1 + weight * e_sync
        return loss, {"l1": l1, "e_sync": e_sync, "p_sync": tf.reduce_mean(p_sync), "objective": l1 + e_sync}

    @staticmethod
    def _blend_terms(painted, alpha, target):
        """The terms of a blending generator (keras_s2v.models.speech2vid.ReferenceBlend).

        The L1 of the painted frames over the whole face keeps the core drawing the face's
        colours: trained through the blend alone, it left a grey blob at the mouth. The area
        term makes the blend paint only where the reference cannot serve, so a real face keeps
        its own skin (TRAINING.md §5).
        """
        return tf.reduce_mean(tf.abs(painted - target)) + BLEND_AREA_WEIGHT * tf.reduce_mean(alpha)

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
        # under MultiWorkerMirroredStrategy. Both sub-models are built; only the optimizer
        # still needs its variables, created under the strategy's scope.
        if self.optimizer is not None and not self.optimizer.built:
            with self.distribute_strategy.scope():
                self.optimizer.build(self.generator.trainable_variables)

    def train_step(self, data):
        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        with tf.GradientTape() as tape:
            loss, parts = self.objective_terms(inputs, target, training=True)
            # Per-replica mean divided by the replica count: the summed gradients are the global mean.
            replicas = tf.distribute.get_strategy().num_replicas_in_sync
            scaled = self.optimizer.scale_loss(loss / replicas)
        variables = self.generator.trainable_variables
        gradients = tape.gradient(scaled, variables)
        self.optimizer.apply(gradients, variables)
        return self._update(loss, parts)

    def test_step(self, data):
        inputs, target, _ = keras.utils.unpack_x_y_sample_weight(data)
        return self._update(*self.objective_terms(inputs, target, training=False))

    def get_config(self):
        return {
            **super().get_config(),
            "generator": keras.saving.serialize_keras_object(self.generator),
            "syncnet": keras.saving.serialize_keras_object(self.syncnet),
            "sync_weight": float(self.sync_weight.numpy()),
            "mouth_weight": self.mouth_weight,
            "motion_weight": self.motion_weight,
        }

    @classmethod
    def from_config(cls, config):
        config["generator"] = keras.saving.deserialize_keras_object(config["generator"])
        config["syncnet"] = keras.saving.deserialize_keras_object(config["syncnet"])
        return cls(**config)
