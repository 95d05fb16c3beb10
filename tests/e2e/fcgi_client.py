"""A FastCGI client for tests that talk to tenantd's socket directly, bypassing nginx: the
record layer itself (test_fastcgi.py), and requests that must land on a random worker each
(nginx's kept-alive connections tie successive requests to one worker)."""

import json
import socket
import struct
from types import SimpleNamespace

import pytest
from requests.structures import CaseInsensitiveDict

from conftest import _read_kv

BEGIN, ABORT, END, PARAMS, STDIN, STDOUT, GET_VALUES, GET_VALUES_RESULT, UNKNOWN_TYPE = \
    1, 2, 3, 4, 5, 6, 9, 10, 11


def record(rtype, rid, content=b"", pad=0):
    return struct.pack(">BBHHBB", 1, rtype, rid, len(content), pad, 0) + content + b"\0" * pad


def nv(name, value):
    out = b""
    for s in (name, value):
        out += bytes([len(s)]) if len(s) < 128 else struct.pack(">I", len(s) | 0x80000000)
    return out + name + value


def begin(rid, keep=True, role=1):
    return record(BEGIN, rid, struct.pack(">HB5x", role, 1 if keep else 0))


def params_records(rid, params):
    data = b"".join(nv(k.encode(), v.encode()) for k, v in params.items())
    out = b""
    for i in range(0, len(data), 65535):
        out += record(PARAMS, rid, data[i:i + 65535])
    return out + record(PARAMS, rid)


def request_bytes(rid, path="/healthz", method="GET", headers=None, body=b"", keep=True):
    """A request as nginx's fastcgi_params sends it; headers: extra parameters (HTTP_*)."""
    params = {"REQUEST_METHOD": method, "REQUEST_URI": path, "QUERY_STRING": path.partition("?")[2],
              "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "REQUEST_SCHEME": "http",
              "HTTP_HOST": "127.0.0.1"}
    if body:
        params["CONTENT_LENGTH"] = str(len(body))
        params["CONTENT_TYPE"] = "application/json"
    params.update(headers or {})
    out = begin(rid, keep) + params_records(rid, params)
    for i in range(0, len(body), 65535):
        out += record(STDIN, rid, body[i:i + 65535])
    return out + record(STDIN, rid)


class Conn:
    """A FastCGI client connection to tenantd's socket."""

    def __init__(self, path, timeout=10):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(timeout)
        self.s.connect(path)
        self.buf = b""

    def send(self, data):
        self.s.sendall(data)

    def _fill(self, n):
        while len(self.buf) < n:
            chunk = self.s.recv(65536)
            if not chunk:
                raise EOFError("tenantd closed the connection")
            self.buf += chunk

    def read_record(self):
        self._fill(8)
        _, rtype, rid, clen, pad, _ = struct.unpack(">BBHHBB", self.buf[:8])
        self._fill(8 + clen + pad)
        content = self.buf[8:8 + clen]
        self.buf = self.buf[8 + clen + pad:]
        return rtype, rid, content

    def response(self, rid):
        """(status, headers, body, protocol_status) of request rid."""
        out = b""
        while True:
            rtype, got, content = self.read_record()
            assert got == rid, f"record for request {got}, expected {rid}"
            if rtype == STDOUT:
                out += content
            elif rtype == END:
                break
        head, _, body = out.partition(b"\r\n\r\n")
        headers = {}
        for line in head.decode().split("\r\n"):
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        status = int(headers.get("status", "200").split()[0])
        return status, headers, body, content[4]

    def closed(self, wait=5):
        """True when tenantd closes the connection within wait seconds."""
        self.s.settimeout(wait)
        try:
            return self.s.recv(1) == b""
        except socket.timeout:
            return False
        except ConnectionResetError:
            return True

    def close(self):
        self.s.close()



def socket_path(stack):
    listen = _read_kv(stack.config).get("listen", "")
    if not listen.startswith("unix:"):
        pytest.skip("tenantd does not listen on a unix socket in this stack")
    return listen[5:]


class Response:
    """Enough of requests.Response for the assertion helpers."""

    def __init__(self, method, path, status, headers, body):
        self.status_code = status
        self.headers = CaseInsensitiveDict(headers)
        self.content = body
        self.text = body.decode("utf-8", "replace")
        self.request = SimpleNamespace(method=method, url=f"fastcgi:{path}")

    def json(self):
        return json.loads(self.content)


def direct_get(stack, path, *, key=None):
    """GET path straight on tenantd's socket, on a connection of its own: whichever worker
    accepts it first serves it."""
    headers = {"HTTP_AUTHORIZATION": f"Bearer {key}"} if key else {}
    c = Conn(socket_path(stack))
    try:
        c.send(request_bytes(1, path, headers=headers, keep=False))
        status, hdrs, body, _ = c.response(1)
    finally:
        c.close()
    hdrs.pop("status", None)
    return Response("GET", path, status, hdrs, body)


def direct_request(stack, method, path, *, key=None, headers=None, remote_addr="127.0.0.1"):
    """A request straight on tenantd's socket as if nginx had taken it from remote_addr;
    headers are HTTP header names and values."""
    params = {"REMOTE_ADDR": remote_addr}
    if key:
        params["HTTP_AUTHORIZATION"] = f"Bearer {key}"
    for k, v in (headers or {}).items():
        params["HTTP_" + k.upper().replace("-", "_")] = v
    c = Conn(socket_path(stack))
    try:
        c.send(request_bytes(1, path, method=method, headers=params, keep=False))
        status, hdrs, body, _ = c.response(1)
    finally:
        c.close()
    hdrs.pop("status", None)
    return Response(method, path, status, hdrs, body)
