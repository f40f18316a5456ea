"""`MFCC`: the MFCC of keras_s2v.media.audio as a Keras layer, for models that take raw speech."""

import keras

from keras_s2v.geometry import NUM_MFCC
from keras_s2v.media.audio import mfcc_tf, num_mfcc_steps


@keras.saving.register_keras_serializable(package="keras_s2v")
class MFCC(keras.layers.Layer):
    """(batch, samples) PCM at 16 kHz -> (batch, 12, T, 1) MFCC map."""

    def __init__(self, normalize=True, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(normalize, bool):
            raise ValueError(f"`normalize` must be a bool; received {normalize!r}")
        self.normalize = normalize

    def call(self, waveform):
        return mfcc_tf(waveform, normalize=self.normalize)[..., None]

    def compute_output_shape(self, input_shape):
        samples = input_shape[-1]
        steps = None if samples is None else num_mfcc_steps(samples)
        return (input_shape[0], NUM_MFCC, steps, 1)

    def get_config(self):
        return {**super().get_config(), "normalize": self.normalize}
