"""Domain errors. Services raise these; the CLI and web layer map them to exit codes / HTTP."""

from __future__ import annotations


class GuardianError(Exception):
    """Base class for every error Guardian raises on purpose."""


class InputError(GuardianError, ValueError):
    """Input that cannot be used: names the bad value and, where possible, the fix."""


class NotFound(GuardianError, LookupError):
    """A requested object (force, cocoon, task, ...) does not exist."""


class Conflict(GuardianError):
    """The request conflicts with the current state (e.g. a visit on an expired cocoon)."""


class Forbidden(GuardianError):
    """The caller's role does not allow this action."""
