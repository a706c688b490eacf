"""An app that takes request bodies of any size and answers how many bytes it read:
``Content-Length`` or chunked, read piece by piece, never held."""

import argparse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PIECE = 256 * 1024


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            count = self._chunked()
        else:
            count = self._counted(int(self.headers.get("Content-Length", "0")))
        self._answer(200, f"{count}\n".encode())

    do_GET = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_POST

    def do_HEAD(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()

    def _counted(self, length: int) -> int:
        left = length
        while left > 0:
            piece = self.rfile.read(min(PIECE, left))
            if not piece:
                break
            left -= len(piece)
        return length - left

    def _chunked(self) -> int:
        count = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0], 16)
            if size == 0:
                self.rfile.readline()
                return count
            count += self._counted(size)
            self.rfile.readline()

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
    args = parser.parse_args()
    Server(("127.0.0.1", args.port), Handler).serve_forever()


if __name__ == "__main__":
    main()
