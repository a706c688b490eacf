"""``molt`` on the command line: ``main`` parses, each verb group has its module."""
