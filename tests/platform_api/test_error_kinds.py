"""Every step failure is classified, and its docs link leads to a section of a page the API serves."""

from __future__ import annotations

import re

import pytest

from core.errors import ErrorKind, MaybeSent, Permanent, Retryable, docs_url, kind_of_status
from flow_factory.conditions import ConditionError
from flow_factory.expressions import ExpressionError


@pytest.mark.parametrize(
    ("status", "kind"),
    [(401, "auth"), (403, "permission"), (404, "validation"), (422, "validation"), (429, "rate_limited"),
     (408, "timeout"), (504, "timeout"), (500, "upstream_down"), (503, "upstream_down")],
)  # fmt: skip
def test_a_services_status_names_the_kind(status, kind):
    assert kind_of_status(status) == kind
    assert Permanent("refused", details={"status_code": status}).as_dict()["kind"] == kind


def test_a_failure_without_a_status_takes_its_kind_from_where_it_was_raised():
    assert ExpressionError("no such field").kind == ErrorKind.EXPRESSION
    assert ConditionError("bad pattern").kind == ErrorKind.EXPRESSION
    assert Retryable("connection refused").kind == ErrorKind.UPSTREAM_DOWN
    assert MaybeSent("no answer").kind == ErrorKind.TIMEOUT
    assert Permanent("no connection chosen").kind == ErrorKind.CONFIGURATION
    assert Permanent("x", kind=ErrorKind.AUTH, details={"status_code": 500}).kind == ErrorKind.AUTH  # named wins


def test_each_kind_has_a_help_page_and_the_old_links_keep_their_anchors(anonymous):
    """docs_url leads to the kind's page of the help site (tests/test_help_site.py fetches each); the links stored
    before it, /help/errors#<kind>, still reach a page with that anchor, built or not."""
    for kind in ErrorKind:
        assert docs_url(kind) == f"/help/errors/{kind.value.replace('_', '-')}/", kind
    page = anonymous.http.get("/help/errors")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    anchors = set(re.findall(r'<a id="([a-z-]+)"></a>', page.text))
    assert {kind.value.replace("_", "-") for kind in ErrorKind} <= anchors
    assert "Credentials rejected" in page.text
