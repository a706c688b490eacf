"""The ssh backend: generations as processes on SSH hosts, traffic through HAProxy.

Each host keeps one asyncssh connection open; artifacts go up once per host over
SFTP into a read-only directory with a manifest; HAProxy on the load-balancer host is
driven through its runtime API over the same kind of kept connection. Truth lives on
the hosts (generation directories, pid files) and in a desired-state file on the LB
host, which Molt re-applies when it finds HAProxy reloaded.
"""

import warnings

with warnings.catch_warnings():
    # asyncssh still names DSA keys, which newer cryptography deprecates at import: the
    # warning is about asyncssh, not the operator's fleet, and must not reach stderr
    warnings.filterwarnings("ignore", message="DSA is deprecated")
    import asyncssh  # noqa: F401
