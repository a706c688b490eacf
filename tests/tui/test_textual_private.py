"""The private Textual API Molt uses (all of it in tui/textual_private.py): when
Textual changes it, these fail and the workaround is looked at again."""

from __future__ import annotations

import inspect

from textual.app import App
from textual.timer import Timer

from tui import textual_private


def test_the_timer_fix_is_in_place_for_this_textual():
    """Textual's frame timer skips one interval too far after an idle moment (see
    tui/textual_private.py); the fix must apply to the Textual Molt is pinned to — when
    Textual changes that method, this fails and the fix is looked at again."""
    assert textual_private.fix_timer() and Timer._run is textual_private._run


def test_the_fatal_error_hook_is_still_where_textual_calls_it():
    """An unhandled exception goes through ``App._handle_exception`` to
    ``App._fatal_error``; the one-line replacement uses what that reads and calls."""
    handling = inspect.getsource(App._handle_exception)
    assert "self._fatal_error()" in handling and "self._exception = error" in handling
    fatal = inspect.getsource(App._fatal_error)
    assert "self._exit_renderables.append(" in fatal and "self._close_messages_no_wait()" in fatal
