"""Widgets of the fleet view."""
