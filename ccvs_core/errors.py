"""The toolkit's exceptions.

Every error names the input it is about (a file, a flag, a config field, a plugin) and says what is
wrong with it, so that the CLI can print it as one line without a traceback:

    InputError("toyworld/v0003/state.json", "positions[4] is NaN")
    -> "toyworld/v0003/state.json: positions[4] is NaN"
"""

from __future__ import annotations

import os


class CCVSError(Exception):
    """Base class of every error ccvs raises on purpose.

    subject: what the error is about (a path, ``--flag``, ``config.field``, ``plugin 'audio'``).
    problem: what is wrong with it.
    hint: optionally, what to do about it.
    """

    def __init__(self, subject: str | os.PathLike, problem: str, hint: str | None = None):
        self.subject = str(subject)
        self.problem = problem
        self.hint = hint
        message = f"{self.subject}: {problem}"
        if hint:
            message += f" ({hint})"
        super().__init__(message)

    def __reduce__(self):  # keep the three parts when crossing a process boundary (data workers)
        return (type(self), (self.subject, self.problem, self.hint))


class ConfigError(CCVSError):
    """A config file or config value is malformed, ill-typed or unknown."""


class CheckpointError(CCVSError):
    """A checkpoint directory or file is missing, truncated, malformed or does not match the model."""


class InputError(CCVSError):
    """A user input (CLI flag, file, spec string, dataset item) is missing or malformed."""


class PluginError(CCVSError):
    """A condition plugin failed to load, declared invalid slots, or claimed a taken name."""
