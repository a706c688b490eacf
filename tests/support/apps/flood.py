"""An app that floods its output: ``--lines`` numbered lines as fast as it can write
them (``flood 0 xxx…``, ``flood 1 xxx…``), then ``flood done``; it answers health checks
meanwhile."""

import argparse
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--lines", type=int, default=200_000)
    args = parser.parse_args()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = sys.stdout.buffer
    padding = b"x" * 90
    for number in range(args.lines):
        out.write(b"flood %d %s\n" % (number, padding))
    out.write(b"flood done\n")
    out.flush()
    threading.Event().wait()


if __name__ == "__main__":
    main()
