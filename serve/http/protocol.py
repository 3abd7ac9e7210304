"""The connection layer of ``zoo serve``: uvicorn's h11 protocol with the server's own
error answers and deadlines for slow clients (issue #45).

uvicorn answers a request its parser refuses (``Content-Length: abc``, a bad request
line, a header line without a colon) with a plain-text 400 of its own, and bounds only
the idle time between requests (``timeout_keep_alive``): a client that sends its headers
a byte a second, or opens a connection and says nothing, holds it for ever. This
subclass of :class:`uvicorn.protocols.http.h11_impl.H11Protocol` (uvicorn's pure-Python
HTTP/1.1 implementation, chosen explicitly so the same code runs whether or not
httptools is installed) changes three things:

- a parser error is answered ``{"error": "malformed HTTP request: <h11's reason>"}``,
  one line of JSON with h11's status hint (400; 431 for headers over the 16 kB limit;
  an unsupported ``Transfer-Encoding``, which h11 hints 501, is a 400 too: it is the
  client's request that is wrong), and the connection is closed;
- the headers must be complete ``header_timeout`` seconds after the connection opens
  or after the first byte of the next request on a kept-alive one: then a partial
  request is answered 408 (one line of JSON) and the connection closed, and a
  connection that sent nothing is closed quietly;
- a body nobody reads (the answer went out first: a 401, or a GET that carried a
  body) must still be in ``body_timeout`` seconds after its headers, or the connection
  is closed; a body the application reads has that deadline there
  (:class:`serve.http.guards.BodyDeadline`, answered 408).
"""

import http
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

DEFAULT_MAX_HEADER_BYTES = 16 * 1024  # h11's DEFAULT_MAX_INCOMPLETE_EVENT_SIZE


def error_bytes(status, message):
    """A whole HTTP/1.1 answer ``{"error": message}`` with ``status``, closing the connection."""
    body = json.dumps({"error": message}).encode()
    head = (f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\nconnection: close\r\n\r\n")
    return head.encode("ascii") + body


class _Connection(h11.Connection):
    """h11's server side, telling the protocol when a request's headers and body are in,
    and keeping the parser's last error (uvicorn drops it)."""

    def __init__(self, max_size, on_headers, on_body):
        super().__init__(h11.SERVER, max_incomplete_event_size=max_size)
        self._on_headers, self._on_body = on_headers, on_body
        self.error = None

    def next_event(self):
        try:
            event = super().next_event()
        except h11.RemoteProtocolError as error:
            self.error = error
            raise
        if isinstance(event, h11.Request):
            self._on_headers()
        elif isinstance(event, h11.EndOfMessage):
            self._on_body()
        return event


class ZooH11Protocol(H11Protocol):
    """See the module's docstring. :func:`protocol_class` sets the two deadlines (seconds;
    None or 0: none)."""

    header_timeout = 10.0
    body_timeout = 60.0

    def __init__(self, config, *args, **kwargs):
        super().__init__(config, *args, **kwargs)
        self.max_header_bytes = config.h11_max_incomplete_event_size or DEFAULT_MAX_HEADER_BYTES
        self.conn = _Connection(self.max_header_bytes, self._headers_in, self._body_in)
        self._header_timer = self._body_timer = self._body_deadline = None

    # ------------------------------------------------------------------ asyncio's protocol interface
    def connection_made(self, transport):
        super().connection_made(transport)
        self._arm_header_timer()

    def data_received(self, data):
        if self._header_timer is None and self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # the first bytes of the next request on a kept-alive connection
        super().data_received(data)

    def connection_lost(self, exc):
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        super().connection_lost(exc)

    # ------------------------------------------------------------------ uvicorn's hooks
    def send_400_response(self, msg):
        """uvicorn's answer to a request h11 refuses, as one line of JSON."""
        error = self.conn.error
        status = getattr(error, "error_status_hint", 400)
        if not 400 <= status < 500:
            status = 400
        if status == 431:
            message = f"the request's headers are over the {self.max_header_bytes / 1000:g} kB limit"
        else:  # h11's reason without the bytes it quotes ("illegal request line: bytearray(b'...')")
            reason = str(error).split(": bytearray(")[0] if error is not None else msg
            message = f"malformed HTTP request: {reason}"
        cycle = self.cycle
        if cycle is not None and not cycle.response_complete:
            if cycle.response_started:  # half an answer is out: nothing more can be said
                self.transport.close()
                return
            cycle.disconnected = True  # the application's answer, if it comes, is dropped
            cycle.message_event.set()
        self.transport.write(error_bytes(status, message[:300]))
        self.transport.close()

    def on_response_complete(self):
        super().on_response_complete()
        if (self._body_deadline is not None and self.loop.time() >= self._body_deadline
                and self.conn.their_state is h11.SEND_BODY and not self.transport.is_closing()):
            self.transport.close()  # answered, and the body is still coming after its deadline

    # ------------------------------------------------------------------ the deadlines
    def _cancel(self, name):
        timer = getattr(self, name)
        if timer is not None:
            timer.cancel()
            setattr(self, name, None)

    def _arm_header_timer(self):
        if self.header_timeout:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_late)

    def _headers_in(self):
        self._cancel("_header_timer")
        self._cancel("_body_timer")
        if self.body_timeout:
            self._body_deadline = self.loop.time() + self.body_timeout
            self._body_timer = self.loop.call_later(self.body_timeout, self._body_late)

    def _body_in(self):
        self._cancel("_body_timer")
        self._body_deadline = None

    def _headers_late(self):
        self._header_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.IDLE:
            return
        if self.conn.trailing_data[0]:  # part of a request came: say why it is refused
            self.logger.info("Request headers not in after %g s: answered 408 and closed.", self.header_timeout)
            self.transport.write(error_bytes(408, f"the request's headers did not arrive within "
                                                  f"{self.header_timeout:g} s (zoo serve --header-timeout)"))
        self.transport.close()

    def _body_late(self):
        self._body_timer = None
        if self.transport.is_closing() or self.conn.their_state is not h11.SEND_BODY:
            return
        if self.cycle is None or self.cycle.response_complete:
            self.transport.close()
        # Else the application has the request: its own deadline answers 408 if it reads the
        # body, and on_response_complete closes the connection once it has answered.


def protocol_class(header_timeout, body_timeout):
    """A :class:`ZooH11Protocol` with these deadlines, for ``uvicorn.Config(http=...)``."""
    return type("ZooH11Protocol", (ZooH11Protocol,), {"header_timeout": header_timeout,
                                                       "body_timeout": body_timeout})
