"""An app that is not ours: it dies at once, saying why (a missing config file)."""

import sys

print("starting up", flush=True)
print("fatal: cannot read /etc/molt-test/app.conf: No such file or directory", flush=True)
sys.exit(3)
