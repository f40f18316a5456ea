import collections
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import pytest

# `make test` runs two xdist workers. Each module's tests go to one worker, so its module-scoped fixtures (an
# export, trained models, a server) are built once, not once per worker; the tests of the modules below need only
# the session's fixtures and take minutes in all, so they are spread one by one.
SPREAD_MODULES = {"test_training.py", "test_cli.py"}


def pytest_collection_modifyitems(items):
    """The spread tests first (the longest tests are among them), then the modules, most tests first: each worker
    takes the next when it is free, and what comes last decides how long the other waits."""
    counts = collections.Counter(item.path for item in items)
    items.sort(key=lambda item: (item.path.name not in SPREAD_MODULES, -counts[item.path]))


def pytest_xdist_make_scheduler(config, log):
    """Schedules by module, but the spread ones test by test, in the order above. (xdist's `loadgroup` cannot do
    this under pytest 9: it groups by a suffix it writes into each test's id, which pytest 9 no longer reads
    back, so every module was spread and its fixtures built on both workers.)"""
    from xdist.scheduler import LoadScopeScheduling

    class ModuleScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            module = nodeid.split("::")[0]
            return nodeid if os.path.basename(module) in SPREAD_MODULES else module

    config.option.loadscopereorder = False  # keep the order above
    return ModuleScheduling(config, log)


@pytest.fixture(scope="session")
def tiny_shards(tmp_path_factory):
    """A tiny preprocessed synthetic corpus: 3 speakers (train/val/test) x 2 clips of 2 s."""
    from keras_s2v.data.preprocess import preprocess
    from keras_s2v.lab.synth.corpus import write_corpus

    root = tmp_path_factory.mktemp("tiny_corpus")
    write_corpus(root / "videos", speakers=3, seconds=2.0, clips_per_speaker=2, seed=3, progress=False)
    manifest = preprocess(str(root / "videos"), str(root / "shards"), workers=1, detector="sidecar", progress=False)
    return str(root / "shards"), manifest


@pytest.fixture(scope="session")
def tiny_syncnet_path(tiny_shards, tmp_path_factory):
    """A tiny SyncNet trained for a few steps, saved as .keras."""
    from keras_s2v.saving import save_model
    from keras_s2v.training.recipe import SyncNetRecipe
    from keras_s2v.training.syncnet_fit import train_syncnet

    model, _ = train_syncnet(*tiny_shards, SyncNetRecipe("tiny", steps=3, batch_size=8), verbose=False)
    path = str(tmp_path_factory.mktemp("syncnet") / "expert.keras")
    save_model(model, path)
    return path


@pytest.fixture(scope="module")
def detector():
    """The CNN face detector with its 468-point mesh."""
    from keras_s2v import faces

    return faces.CNNDetector()


@pytest.fixture(scope="module")
def astronaut_mesh(detector):
    """(skimage's astronaut photograph, its face mesh (468, 2) float64): a real face that ships in a wheel."""
    import numpy as np

    from keras_s2v.media.photos import real_photos

    photo = real_photos()["astronaut"]
    face = detector.detect(photo)
    assert face is not None, "the CNN mesh must find the astronaut's face"
    return photo, np.asarray(face.landmarks, np.float64)
