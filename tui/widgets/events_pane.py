"""The fleet view's event stream with its filter (``/``): enter keeps the filter,
escape clears it."""

from __future__ import annotations

from textual import on
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import Input

from tui.widgets.event_log import EventLog


class EventsPane(Vertical):
    """Holds an :class:`EventLog` and its filter ``Input`` (``#filter``)."""

    class FilterClosed(Message):
        """The filter input closed (its text kept or cleared): keys are the view's again."""

    def on_mount(self) -> None:
        self.border_title = "events"

    @property
    def filter_kept(self) -> bool:
        """A filter applies though its input is closed (enter kept it)."""
        field = self.query_one("#filter", Input)
        return bool(field.value) and not field.display

    def open_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.display = True
        field.focus()

    def close_filter(self, *, clear: bool) -> None:
        """Close the input (its text kept or cleared). The view that asked does its part
        at once: a second key of the same burst must already find the filter closed."""
        field = self.query_one("#filter", Input)
        if clear:
            field.value = ""
        field.display = False

    @on(Input.Changed, "#filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.query_one(EventLog).filter_text = event.value
        self.border_title = f"events · filter: {event.value}" if event.value else "events"

    @on(Input.Submitted, "#filter")
    def _filter_kept(self) -> None:
        self.close_filter(clear=False)
        self.post_message(self.FilterClosed())  # enter: the input's key, not the view's
