"""Hostile FastCGI record streams on tenantd's socket (issue 14), beside test_fastcgi.py (busy
connections, ABORT mid-body, garbage, oversized parameters), test_request_edges.py (stdin
longer than CONTENT_LENGTH) and test_slots.py (idle and trickling connections, slow readers).

Each stream ends in one of: the connection closed, a clean error record (FCGI_END_REQUEST,
FCGI_UNKNOWN_TYPE) or a clean 4xx answer, or a normal answer where the specification allows the
stream. After each: every worker is the one it was (none crashed and was replaced), and another
client is served at once. Every read is bounded by the socket's timeout: nothing hangs.
"""

import socket
import struct
import time

import pytest

from conftest import _tenantd_worker_pids
from fcgi_client import (ABORT, BEGIN, END, GET_VALUES, PARAMS, STDIN, STDOUT, UNKNOWN_TYPE, Conn, begin,
                         nv, params_records, record, request_bytes, socket_path)

HEALTHZ = {"REQUEST_METHOD": "GET", "REQUEST_URI": "/healthz", "QUERY_STRING": "",
           "SERVER_PROTOCOL": "HTTP/1.1"}


@pytest.fixture
def sock(stack):
    return socket_path(stack)


@pytest.fixture
def unharmed(stack, sock):
    """After the test: the same workers, and a new connection served at once."""
    before = set(_tenantd_worker_pids(stack))
    yield
    c = Conn(sock, timeout=10)
    try:
        c.send(request_bytes(1, keep=False))
        assert c.response(1)[0] == 200
    finally:
        c.close()
    assert set(_tenantd_worker_pids(stack)) == before, "a worker died and was replaced"


def raw_record(rtype, rid, content=b"", pad=0, version=1, clen=None, pad_byte=b"\0"):
    """A record whose header may lie (clen) or carry another version."""
    clen = len(content) if clen is None else clen
    return struct.pack(">BBHHBB", version, rtype, rid, clen, pad, 0) + content + pad_byte * pad


def closed_after(sock, data, *, half_close=False):
    """True when tenantd closes the connection within 10 s of data (whatever it sends first)."""
    c = Conn(sock, timeout=10)
    try:
        c.send(data)
        if half_close:
            c.s.shutdown(socket.SHUT_WR)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if c.closed(wait=max(0.1, deadline - time.monotonic())):
                return True
        return False
    finally:
        c.close()


def answer(sock, data, rid=1):
    """(status, headers, body) of the request rid a stream makes, on a connection kept open;
    then the same connection serves another request."""
    c = Conn(sock, timeout=10)
    try:
        c.send(data)
        status, headers, body, proto = c.response(rid)
        assert proto == 0
        c.send(request_bytes(rid + 1))
        assert c.response(rid + 1)[0] == 200, "the connection is out of step after the stream"
        return status, headers, body
    finally:
        c.close()


@pytest.mark.parametrize("data", [
    pytest.param(b"\x01\x01\x00", id="header-cut-short"),
    pytest.param(raw_record(BEGIN, 1, b"\0\1\1\0", clen=8), id="content-cut-short"),
    pytest.param(begin(1) + raw_record(PARAMS, 1, b"\x0eREQUEST_METHOD", clen=200), id="params-cut-short"),
    pytest.param(begin(1) + params_records(1, HEALTHZ) + raw_record(STDIN, 1, b"{}", pad=200),
                 id="padding-cut-short"),
])
def test_a_stream_cut_short_is_closed(sock, unharmed, data):
    """The peer sends part of a record and then no more (end of file): closed at once."""
    assert closed_after(sock, data, half_close=True)


@pytest.mark.parametrize("version", [0, 2, 255])
def test_another_version_closes_the_connection(sock, unharmed, version):
    assert closed_after(sock, raw_record(BEGIN, 1, struct.pack(">HB5x", 1, 1), version=version))


def test_another_version_mid_request_closes_the_connection(sock, unharmed):
    data = begin(1) + raw_record(PARAMS, 1, nv(b"REQUEST_METHOD", b"GET"), version=2)
    assert closed_after(sock, data)


@pytest.mark.parametrize("rid", [0, 1])
def test_begin_request_with_id_0_or_twice_with_one_id_closes(sock, unharmed, rid):
    """Id 0 is for management records only; a second BEGIN_REQUEST for the open request is no
    request at all (another id gets FCGI_CANT_MPX_CONN: test_fastcgi.py)."""
    data = begin(0) if rid == 0 else begin(1) + begin(1)
    assert closed_after(sock, data)


@pytest.mark.parametrize("pairs", [
    pytest.param(b"\x64\x03ABC", id="name-longer-than-the-params"),
    pytest.param(b"\x03\x7fABCxyz", id="value-longer-than-the-params"),
    pytest.param(b"\xff\xff\xff\xff\x00", id="four-byte-length-with-every-bit"),
    pytest.param(b"\x80\x00\x00\x03\xff\xff\xffABCxyz", id="four-byte-value-length-beyond"),
    pytest.param(b"\x80\x00", id="four-byte-length-cut-short"),
    pytest.param(b"\x05", id="value-length-missing"),
])
def test_name_value_lengths_beyond_the_params_are_400(sock, unharmed, pairs):
    """Lengths that run past what the PARAMS stream holds, in one or four bytes (top bit set):
    a clean 400, nothing read outside the stream, and the connection goes on."""
    data = begin(1) + record(PARAMS, 1, b"".join(nv(k.encode(), v.encode()) for k, v in HEALTHZ.items())
                             + pairs) + record(PARAMS, 1) + record(STDIN, 1)
    status, headers, body = answer(sock, data)
    assert status == 400, body
    assert headers["content-type"] == "application/problem+json"
    assert b"malformed" in body


def test_four_byte_lengths_for_short_pairs_are_read(sock, unharmed):
    """The long form is allowed for any length, not only above 127."""
    def long_nv(name, value):
        return struct.pack(">II", len(name) | 0x80000000, len(value) | 0x80000000) + name + value

    data = begin(1) + record(PARAMS, 1, b"".join(long_nv(k.encode(), v.encode()) for k, v in HEALTHZ.items())) \
        + record(PARAMS, 1) + record(STDIN, 1)
    assert answer(sock, data)[0] == 200


def test_params_split_one_byte_per_record(sock, unharmed):
    """Pairs may span records anywhere: every byte of the stream in a record of its own."""
    stream = b"".join(nv(k.encode(), v.encode()) for k, v in HEALTHZ.items())
    data = begin(1) + b"".join(record(PARAMS, 1, stream[i:i + 1]) for i in range(len(stream))) \
        + record(PARAMS, 1) + record(STDIN, 1)
    assert answer(sock, data)[0] == 200


def test_padding_of_every_length_and_content_is_skipped(sock, unharmed):
    """255 bytes of padding (not zeros) after every record, also after empty ones."""
    def padded(rtype, rid, content=b""):
        return raw_record(rtype, rid, content, pad=255, pad_byte=b"\x01")

    stream = b"".join(nv(k.encode(), v.encode()) for k, v in HEALTHZ.items())
    data = padded(BEGIN, 1, struct.pack(">HB5x", 1, 1)) + padded(PARAMS, 1, stream) + padded(PARAMS, 1) \
        + padded(STDIN, 1)
    assert answer(sock, data)[0] == 200


def test_a_record_of_the_largest_size_with_the_largest_padding(sock, unharmed):
    """65,535 bytes of STDIN and 255 of padding in one record, as the body of a request that
    declares it: read whole, answered, the stream stays in step."""
    body = b" " * 65535
    params = dict(HEALTHZ, CONTENT_LENGTH=str(len(body)))
    data = begin(1) + params_records(1, params) + raw_record(STDIN, 1, body, pad=255) + record(STDIN, 1)
    assert answer(sock, data)[0] == 200


@pytest.mark.parametrize("rtype", [12, 77, 255])
def test_unknown_management_types_get_unknown_type(sock, unharmed, rtype):
    c = Conn(sock, timeout=10)
    try:
        c.send(record(rtype, 0, b"\x01\x02\x03"))
        got, rid, content = c.read_record()
        assert (got, rid, len(content), content[0]) == (UNKNOWN_TYPE, 0, 8, rtype)
        c.send(request_bytes(1))
        assert c.response(1)[0] == 200
    finally:
        c.close()


@pytest.mark.parametrize("rtype", [END, STDOUT, 8, 12, 200])
def test_unknown_or_misdirected_types_in_a_request_are_ignored(sock, unharmed, rtype):
    """Types an application never receives (END_REQUEST, STDOUT, FCGI_DATA for a responder) or
    does not know, for the open request: skipped; the request is answered."""
    data = begin(1) + record(rtype, 1, b"junk") + params_records(1, HEALTHZ) + record(rtype, 1) + record(STDIN, 1)
    assert answer(sock, data)[0] == 200


def test_records_for_a_request_that_is_not_open_are_ignored(sock, unharmed):
    data = record(STDIN, 7, b"x") + record(PARAMS, 7, b"\x01\x01ab") + begin(1) + record(ABORT, 9) \
        + params_records(1, HEALTHZ) + record(STDIN, 3, b"y") + record(STDIN, 1)
    assert answer(sock, data)[0] == 200


def test_abort_during_params(sock, unharmed):
    """ABORT before the parameters are complete: FCGI_END_REQUEST (complete), nothing served,
    and the next request on the connection is answered."""
    c = Conn(sock, timeout=10)
    try:
        stream = b"".join(nv(k.encode(), v.encode()) for k, v in HEALTHZ.items())
        c.send(begin(2) + record(PARAMS, 2, stream[:20]) + record(ABORT, 2))
        rtype, rid, content = c.read_record()
        assert (rtype, rid, content[4]) == (END, 2, 0)
        c.send(request_bytes(3))
        assert c.response(3)[0] == 200
    finally:
        c.close()


def test_malformed_get_values_closes_the_connection(sock, unharmed):
    """Answered with what could be read (nothing), then closed."""
    assert closed_after(sock, record(GET_VALUES, 0, b"\x7f\x00FCGI"))
