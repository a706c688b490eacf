"""Suite-wide settings."""

from hypothesis import settings

# Property tests judge rules, not speed: on a busy 2-core machine (agents, sshd and
# HAProxy running beside them) a per-example deadline only adds flaky failures.
settings.register_profile("molt", deadline=None)
settings.load_profile("molt")
