"""TensorFlow Serving's model base path: one folder per integer version, the latest served.

Told from the folder names alone, without TensorFlow, so that `s2v export` refuses a version that
exists before TensorFlow loads.
"""

import os

from keras_s2v.errors import FileError


def latest_version(base: str) -> int | None:
    """The highest integer version folder under a model base path, or None."""
    versions = [int(name) for name in os.listdir(base) if name.isdigit()] if os.path.isdir(base) else []
    return max(versions) if versions else None


def version_folder(base, version=None, force=False):
    """`<base>/<version>/` to write: `version` defaults to the latest + 1; an existing one needs `force`."""
    if version is None:
        version = (latest_version(base) or 0) + 1
    if not isinstance(version, int) or version < 1:
        raise ValueError(f"`version` must be an integer >= 1; received {version!r}")
    target = os.path.join(base, str(version))
    if os.path.exists(target) and not force:
        raise FileError(target, "this version already exists (pass --force to replace it)")
    return target
