"""HTTP/1.1 on the wire, as the proxy needs it: which headers stay on one hop, and
answers the proxy makes itself (502, 503, 504)."""

from __future__ import annotations

from http import HTTPStatus

IDEMPOTENT = frozenset({b"GET", b"HEAD", b"OPTIONS", b"PUT", b"DELETE", b"TRACE"})
HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
        b"content-length",
        b"expect",
    }
)
ANSWER_TIMEOUT = 60.0


def reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


def simple_answer(status: int, text: str, *, close: bool = False) -> bytes:
    body = text.encode()
    head = (
        b"HTTP/1.1 %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
        % (status, reason(status), len(body))
    )
    return head + (b"Connection: close\r\n" if close else b"") + b"\r\n" + body
