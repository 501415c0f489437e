"""Errors a user can cause. The CLI prints them as one line and exits non-zero, with no traceback."""


class MnistlabError(Exception):
    """A problem the user can fix: the message names it and says what to do."""

    exit_code = 2


def setting(name: str, value: object = None) -> str:
    """A setting named for both audiences: `out (--out)`, or `top_k=3 (--top-k 3)` with a value.

    Library messages name what to change this way, so that they read right in Python and on the command
    line alike.
    """
    flag = "--" + name.replace("_", "-")
    if value is None:
        return f"{name} ({flag})"
    import shlex

    return f"{name}={value!r} ({flag} {shlex.quote(str(value))})"


class DataError(MnistlabError):
    """A data file is missing, corrupt, truncated or fails its checksum."""


class SplitError(MnistlabError, ValueError):
    """A split string does not parse or does not fit the dataset (a ValueError, as in tfds)."""


class ModelFileError(MnistlabError):
    """A model file is missing, unreadable, unsafe, or not a model."""
