"""Errors the command line reports as one clear line (no traceback)."""

from __future__ import annotations

__all__ = ["CLIError", "EXIT_OK", "EXIT_FAILURE", "EXIT_USAGE", "EXIT_INTERRUPTED"]

EXIT_OK = 0
EXIT_FAILURE = 1  # the run itself failed (I/O error, engine failure)
EXIT_USAGE = 2  # bad input: missing file, bad parameter, shape/dtype mismatch
EXIT_INTERRUPTED = 130  # Ctrl-C, as shells report SIGINT


class CLIError(Exception):
    """A user-facing error: printed as ``imcombiners <cmd>: error: <message>``.

    Parameters
    ----------
    message : str
        One line, saying what is wrong and, when possible, how to fix it.
    status : int
        Exit status (2 = bad input, 1 = the run failed).
    """

    def __init__(self, message: str, status: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.status = status
