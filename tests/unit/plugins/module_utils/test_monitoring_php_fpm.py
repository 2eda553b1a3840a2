"""PHP-FPM pool status as textfile metrics: FastCGI framing, a pool that answers, one that does not, atomic write."""

import json
import os
import socket
import struct
import threading

import pytest
from ansible_collections.wpzo.hosting.plugins.module_utils import monitoring_php_fpm as fpm

STATUS = {
    "pool": "shop",
    "accepted conn": 12,
    "listen queue": 3,
    "max listen queue": 4,
    "listen queue len": 511,
    "idle processes": 1,
    "active processes": 5,
    "total processes": 6,
    "max active processes": 5,
    "max children reached": 2,
    "slow requests": 1,
    "start time": 1700000000,
}
POOL = {"site": "shop.example.test", "pool": "shop", "socket": "", "status_path": "/fpm-status", "max_children": 5}


def record(kind, content=b"", padding=0):
    return struct.pack("!BBHHBx", 1, kind, 1, len(content), padding) + content + b"\0" * padding


def response(body, status=None):
    head = (b"Status: %s\r\n" % status if status else b"") + b"Content-type: application/json\r\n\r\n"
    end = record(fpm.FCGI_END_REQUEST, b"\0" * 8)
    return record(fpm.FCGI_STDOUT, head + body, padding=3) + record(fpm.FCGI_STDOUT) + end


def params(request):
    """The name-value pairs of the request's PARAMS records."""
    offset, pairs = 0, {}
    while offset < len(request):
        _version, kind, _id, length, padding = struct.unpack_from("!BBHHBx", request, offset)
        body = request[offset + 8 : offset + 8 + length]
        offset += 8 + length + padding
        while kind == fpm.FCGI_PARAMS and body:
            name_length, value_length = body[0], body[1]
            pairs[body[2 : 2 + name_length].decode()] = body[2 + name_length : 2 + name_length + value_length].decode()
            body = body[2 + name_length + value_length :]
    return pairs


def test_status_request_asks_the_status_path_in_json():
    found = params(fpm.status_request("/fpm-status"))
    assert found["SCRIPT_NAME"] == found["SCRIPT_FILENAME"] == "/fpm-status"
    assert found["QUERY_STRING"] == "json"
    assert found["REQUEST_METHOD"] == "GET"


def test_long_values_use_the_four_byte_length():
    pair = fpm._pair("SCRIPT_NAME", "/" + "a" * 200)
    assert pair[0] == 11 and pair[1] & 0x80 and struct.unpack("!I", pair[1:5])[0] & 0x7FFFFFFF == 201


def test_parse_response_returns_the_body():
    assert json.loads(fpm.parse_response(response(json.dumps(STATUS).encode()))) == STATUS


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (response(b"File not found.", status=b"404 Not Found"), "404"),
        (record(fpm.FCGI_STDOUT, b"\r\n\r\n{}"), "incomplete"),
        (b"HTTP/1.1 200 OK\r\n\r\n", "not a FastCGI"),
    ],
)
def test_parse_response_refuses(data, message):
    with pytest.raises(ValueError, match=message):
        fpm.parse_response(data)


def test_render_writes_the_fields_with_site_and_pool_labels():
    text = fpm.render([(POOL, STATUS)], now=1700000100)
    labels = '{site="shop.example.test",pool="shop"}'
    assert "wpzo_php_fpm_up%s 1" % labels in text
    assert "wpzo_php_fpm_listen_queue%s 3" % labels in text
    assert "wpzo_php_fpm_max_children_reached_total%s 2" % labels in text
    assert "wpzo_php_fpm_max_children%s 5" % labels in text
    assert "# TYPE wpzo_php_fpm_slow_requests_total counter" in text
    assert text.endswith("wpzo_php_fpm_metrics_timestamp_seconds 1700000100\n")


def test_render_writes_seven_series_a_pool_and_none_of_the_fields_nothing_reads():
    text = fpm.render([(POOL, STATUS)], now=1700000100)
    names = sorted({line.split("{")[0] for line in text.splitlines() if "{" in line and not line.startswith("#")})
    assert names == [
        "wpzo_php_fpm_active_processes",
        "wpzo_php_fpm_idle_processes",
        "wpzo_php_fpm_listen_queue",
        "wpzo_php_fpm_max_children",
        "wpzo_php_fpm_max_children_reached_total",
        "wpzo_php_fpm_slow_requests_total",
        "wpzo_php_fpm_up",
    ]


def test_a_pool_that_does_not_answer_is_down_not_missing():
    def refuse(_socket, _path):
        raise ConnectionRefusedError("refused")

    text = fpm.render(fpm.collect([POOL], query=refuse), now=1)
    assert 'wpzo_php_fpm_up{site="shop.example.test",pool="shop"} 0' in text
    assert "wpzo_php_fpm_listen_queue" not in text


def test_label_values_are_escaped():
    text = fpm.render([(dict(POOL, site='a"b\\c'), None)], now=1)
    assert 'site="a\\"b\\\\c"' in text


def test_query_pool_over_a_unix_socket(tmp_path):
    path = str(tmp_path / "pool.sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    received = []

    def answer():
        connection = server.accept()[0]
        received.append(connection.recv(65536))
        connection.sendall(response(json.dumps(STATUS).encode()))
        connection.close()

    thread = threading.Thread(target=answer)
    thread.start()
    try:
        assert fpm.query_pool(path, "/fpm-status") == STATUS
    finally:
        thread.join(5)
        server.close()
    assert params(received[0])["SCRIPT_NAME"] == "/fpm-status"


def test_main_replaces_the_file_atomically_and_leaves_no_temporary(tmp_path):
    config = tmp_path / "pools.json"
    config.write_text(json.dumps({"pools": [dict(POOL, socket=str(tmp_path / "missing.sock"))]}))
    output = tmp_path / "wpzo_php_fpm.prom"
    output.write_text("old\n")
    assert fpm.main(["--config", str(config), "--output", str(output)]) == 0
    assert 'wpzo_php_fpm_up{site="shop.example.test",pool="shop"} 0' in output.read_text()
    assert set(os.listdir(tmp_path)) == {"pools.json", "wpzo_php_fpm.prom"}
    assert oct(output.stat().st_mode & 0o777) == "0o644"
