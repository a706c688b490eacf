"""Screens: the fleet view and the inspect view."""
