"""The one place engine errors (`OrcaError`) become messages for people."""
from __future__ import annotations

import functools
from typing import Callable

import gradio as gr

from orca_engine.errors import OrcaError

from . import messages


def friendly(err: Exception) -> str:
    """An engine error as a sentence for the page."""
    prefix = messages.ERROR_PREFIX.get(type(err).__name__, messages.ERROR_GENERIC)
    return f"{prefix}: {err}"


def error_box(err: Exception) -> str:
    return f'<div class="orca-error">⚠ {friendly(err)}</div>'


def shows_errors(fn: Callable) -> Callable:
    """Engine errors raised by a click handler become a Gradio error message, not a crash."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except OrcaError as err:
            raise gr.Error(friendly(err)) from None
    return wrapper
