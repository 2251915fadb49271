"""Typed engine errors. Every message says what is wrong and what to do about it.

The UI translates these to user messages in exactly one place (app/handlers.py); the CLI prints
them and exits non-zero. Never use `assert` for user input: raise one of these.
"""
from __future__ import annotations


class OrcaError(Exception):
    """Base of every error a user can cause or fix."""


class ConfigError(OrcaError, ValueError):
    """An option has a value outside what is allowed (names the field, the value and the range)."""


class DataError(OrcaError, ValueError):
    """The data cannot be read or used as given (names the problem and the fix)."""


class BackboneError(OrcaError, RuntimeError):
    """A backbone cannot be loaded (unknown, offline, incompatible)."""


class RunError(OrcaError, RuntimeError):
    """A run cannot be started, resumed or loaded in its current state."""


class RunCancelled(OrcaError):
    """Raised inside a stage when the user cancelled the run; never shown as a failure."""
