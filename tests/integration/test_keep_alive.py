"""A client that keeps a connection open and sends on it again after a pause is answered, not reset: the API keeps
idle connections longer (FLOWYARD_API__KEEP_ALIVE_SECONDS, 75 s) than uvicorn's 5 s, which reset requests that
arrived as the timer closed the connection (the soak's ConnectionResetErrors, bench/README.md)."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

PAUSE_SECONDS = 6  # longer than uvicorn's default keep-alive


def test_a_connection_left_idle_for_seconds_still_answers(stack):
    address = urlsplit(stack.api_url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request("GET", "/api/v1/health")
        first = connection.getresponse()
        first.read()
        assert first.status == 200
        socket_used = connection.sock

        time.sleep(PAUSE_SECONDS)
        connection.request("GET", "/api/v1/health")
        second = connection.getresponse()
        second.read()
        assert second.status == 200
        assert connection.sock is socket_used, "the request went out on the same kept-alive connection"
    finally:
        connection.close()
