"""The evaluation's pictures: mean distance per offset, and a grid of real and generated frames."""

import numpy as np

from keras_s2v.evaluation.metrics import OFFSETS


def plot_offsets(mean_distances, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axis = plt.subplots(figsize=(7, 4))
    for kind, values in mean_distances.items():
        axis.plot(OFFSETS, values, marker=".", label=kind)
    axis.set_xlabel("audio offset (frames)")
    axis.set_ylabel("mean embedding distance")
    axis.set_title("evaluation SyncNet: distance against offset (minimum at 0 = in sync)")
    axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_grid(real, generated, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    image = np.concatenate([np.concatenate(list(real), axis=1), np.concatenate(list(generated), axis=1)], axis=0)
    plt.imsave(path, np.clip(image, 0, 1))
