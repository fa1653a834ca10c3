"""The project's exceptions: one type for bad input, always naming what was wrong."""
from __future__ import annotations


class InputError(ValueError):
    """Bad user input (a file, an array, a parameter).

    The message names the source (file path or argument) and the problem, so a batch can print it
    as it is and go on.
    """

    def __init__(self, problem: str, source: str | None = None):
        self.source = source
        self.problem = problem
        super().__init__(f"{source}: {problem}" if source else problem)


class WeightsError(RuntimeError):
    """Missing or corrupt model weights; the message names the file and the command that makes it."""
