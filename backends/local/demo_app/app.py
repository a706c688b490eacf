"""Molt's demo app: the artifact of the built-in ``demo`` fleet (standard library only).

``/`` answers ``demo <version> <generation> <instance>``; ``/healthz`` answers 200 —
except that a version ending in ``-bad`` always fails it and one ending in ``-flaky``
fails a third of the time, so a newcomer can watch a launch fail and the guards refuse it.
A version ending in ``-errors`` passes its health checks but answers 500 to 30% of real
requests, and one ending in ``-slow`` adds 200 ms to every answer: the releases that
only real traffic shows up.
"""

import argparse
import os
import random
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

VERSION = os.environ.get("MOLT_VERSION", "v0")
GENERATION = os.environ.get("MOLT_GENERATION", "g0")
INSTANCE = os.environ.get("MOLT_INSTANCE", "i0")


def healthy() -> bool:
    if VERSION.endswith("-bad"):
        return False
    if VERSION.endswith("-flaky"):
        return random.random() >= 1 / 3
    return True


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real services do
    # one write per response and no Nagle: otherwise delayed ACKs add 40 ms per request
    wbufsize = 64 * 1024
    disable_nagle_algorithm = True

    def do_GET(self) -> None:
        if self.path.startswith("/healthz"):
            ok = healthy()
            self._answer(200 if ok else 500, "ok\n" if ok else "unhealthy\n")
        else:
            self._real_request()

    def _real_request(self) -> None:
        if VERSION.endswith("-slow"):
            time.sleep(0.2)
        if VERSION.endswith("-errors") and random.random() < 0.3:
            print(f"error: {self.command} {self.path} failed: the demo's injected fault",
                  file=sys.stderr, flush=True)
            self._answer(500, f"demo {VERSION} {GENERATION} {INSTANCE}: internal error\n")
        else:
            self._answer(200, f"demo {VERSION} {GENERATION} {INSTANCE}\n")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self._real_request()

    def _answer(self, status: int, body: str) -> None:
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # quiet: a request log per instance would only fill the disk


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # the standard library's 5 drops SYNs under a burst: 1 s stalls


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    print(f"demo {VERSION} ({INSTANCE}) listening on {args.host}:{args.port}", flush=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
