"""The one error type a user sees: a single line saying what, where and what to do."""


class CallauditError(Exception):
    """A problem the user can fix; the CLI prints it as one line and exits non-zero."""

    exit_code = 2
