"""The world below the UI: model, contract, guards, journal and drivers.

Nothing here imports ``textual`` or ``tui`` (tests/unit/test_imports.py enforces it).
"""
