"""Exceptions for bad input. Each carries a one-line message that names the file and the reason."""


class S2VError(Exception):
    """Base class: the CLI prints the message and exits with code 2."""


class MediaError(S2VError):
    """A file is missing, unreadable, or not the kind of media that was expected."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class AudioTooShortError(MediaError):
    """The audio holds less than one 0.2 s window."""


class NoFaceError(MediaError):
    """No face was found in any frame of the input."""


class ModelError(S2VError):
    """A model file is not the kind of model that was expected."""

    def __init__(self, path, reason):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
