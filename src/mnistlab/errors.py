"""Errors a user can cause. The CLI prints them as one line and exits non-zero, with no traceback."""


class MnistlabError(Exception):
    """A problem the user can fix: the message names it and says what to do."""

    exit_code = 2


class DataError(MnistlabError):
    """A data file is missing, corrupt, truncated or fails its checksum."""


class SplitError(MnistlabError, ValueError):
    """A split string does not parse or does not fit the dataset (a ValueError, as in tfds)."""


class ModelFileError(MnistlabError):
    """A model file is missing, unreadable, unsafe, or not a model."""
