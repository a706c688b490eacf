"""An app that is not ours and is never quite clean: it answers 500 to a few requests in
every version (0.5% by default, as real services do: resets, timeouts, one bad shard),
and a version ending in ``-errors`` fails 30% more on top."""

import argparse
import os
import random
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("MOLT_VERSION", "v0")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True
    background = 0.005

    def do_GET(self) -> None:
        if self.path.startswith("/healthz"):
            self._answer(200, b"ok\n")
            return
        failing = self.background + (0.3 if VERSION.endswith("-errors") else 0.0)
        if random.random() < failing:
            self._answer(500, b"noisy: failed\n")
        else:
            self._answer(200, f"noisy {VERSION}\n".encode())

    def _answer(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--errors", type=float, default=0.005, help="fraction failed always")
    args = parser.parse_args()
    Handler.background = args.errors
    Server((args.host, args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
