"""The error types for bad input (the job wrapper turns them into a one-line message)."""


class DataError(ValueError):
    """Bad input: the message is one line naming the file, column and row where it can."""


class TrainingDiverged(DataError):
    """A network's training loss stopped being finite: the message is one line naming the model
    setting, the epoch and the learning rate (a config value too high for the data)."""


class TableError(DataError):
    """A table one rule wrote and another reads does not match its declared columns (a file left
    by another version of the pipeline, or a bug): one line naming the file, table and column."""
