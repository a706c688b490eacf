"""The ssh backend: generations as processes on SSH hosts, traffic through HAProxy.

Each host keeps one asyncssh connection open; artifacts go up once per host over
SFTP into a read-only directory with a manifest; HAProxy on the load-balancer host is
driven through its runtime API over the same kind of kept connection. Truth lives on
the hosts (generation directories, pid files) and in a desired-state file on the LB
host, which Molt re-applies when it finds HAProxy reloaded.
"""
