"""Molt's terminal UI and command line (everything the operator touches)."""
