"""HTTPS in transit: `flowyard up` with FLOWYARD_API__TLS_CERT/KEY (a certificate of a test CA, for 127.0.0.1)
serves the builder and the API over TLS only, with HSTS, announces https URLs, and the README quickstart works
against it with `curl --cacert`. One real stack (`https_stack`), real uvicorn TLS."""

from __future__ import annotations

import ssl

import httpx
import pytest

from tests.test_readme import run_quickstart

HSTS = "max-age=31536000; includeSubDomains"


def test_the_builder_and_the_api_are_served_over_tls_only_with_hsts(https_stack):
    trust_the_test_ca = ssl.create_default_context(cafile=https_stack.tls.ca)
    with httpx.Client(base_url=https_stack.api_url, verify=trust_the_test_ca, timeout=30) as client:
        builder = client.get("/")
        assert builder.status_code == 200 and "<title>Flowyard</title>" in builder.text
        ready = client.get("/api/v1/health/ready")  # database, Prefect and the dispatcher, checked by the API
        assert ready.status_code == 200, ready.text
        for response in (builder, ready):
            assert response.url.scheme == "https"
            assert response.headers["strict-transport-security"] == HSTS

    with pytest.raises(httpx.TransportError):  # the port speaks TLS only: plain HTTP gets no answer
        httpx.get(https_stack.api_url.replace("https://", "http://", 1) + "/api/v1/health", timeout=10)
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):  # the system's CAs do not know it
        httpx.get(https_stack.api_url + "/api/v1/health", timeout=10)

    banner = (https_stack.home / "flowyard-up.log").read_text()
    assert f"Builder UI   {https_stack.api_url}/" in banner
    assert f"API docs     {https_stack.api_url}/docs" in banner


def test_the_readme_quickstart_works_over_https_with_cacert(https_stack):
    run_quickstart(https_stack.api_url, cacert=https_stack.tls.ca)
