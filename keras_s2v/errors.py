"""Exceptions for bad input. Each carries a one-line message that names the file and the reason."""


class S2VError(Exception):
    """Base class: the CLI prints the message and exits with code 2."""


class FileError(S2VError):
    """Something is wrong with one file: the message is `path: reason`."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class MediaError(FileError):
    """A file is missing, unreadable, or not the kind of media that was expected."""


class AudioTooShortError(MediaError):
    """The audio holds less than one 0.2 s window."""


class NoFaceError(MediaError):
    """No face was found in any frame of the input."""


class ModelError(FileError):
    """A model file is not the kind of model that was expected."""


class TrainingError(S2VError):
    """Training cannot go on, e.g. the loss became NaN; the message says what was kept."""
