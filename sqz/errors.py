"""Errors a user can cause: each message says what is wrong and what to do."""


class SqzError(Exception):
    """Base of every user-facing error; the CLI prints it as one line and exits 2."""

    exit_code = 2


class InputError(SqzError):
    """A file, directory or argument that cannot be used as given."""


class DatasetError(SqzError):
    """A dataset that is missing, empty or inconsistent."""


class ModelFileError(SqzError):
    """A model file or checkpoint that is missing, corrupt or of an unknown kind."""


class BudgetError(SqzError):
    """A size budget that cannot be parsed."""


class ToolError(SqzError):
    """A converter or interpreter that is missing or failed."""
