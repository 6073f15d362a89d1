"""A delivery status notification (dsn.c) read by a real parser: Python's
email package with policy.default, field by field (RFC 3464, RFC 6522).
The notification is written by the unit test program (tests/unit/test-dsn
--sample FILE), which builds one for four recipients: two refused by the
relay (one with hostile reply text), a local refusal, an expired one."""

import email
import email.policy
import os
import subprocess

import pytest

from mailout_run import REPO

BUILDDIR = os.environ.get("MAILOUT_BUILDDIR", str(REPO))
SAMPLE = os.path.join(BUILDDIR, "tests", "unit", "test-dsn")


@pytest.fixture
def report(tmp_path):
    if not os.access(SAMPLE, os.X_OK):
        pytest.skip("tests/unit/test-dsn is not built (make check builds it)")
    out = tmp_path / "dsn.eml"
    subprocess.run([SAMPLE, "--sample", str(out)], check=True, timeout=30)
    return email.message_from_bytes(out.read_bytes(), policy=email.policy.default)


def test_the_report_is_multipart_report_of_three_parts(report):
    assert report.get_content_type() == "multipart/report"
    assert report.get_param("report-type") == "delivery-status"
    assert [p.get_content_type() for p in report.iter_parts()] == [
        "text/plain", "message/delivery-status", "text/rfc822-headers"]
    assert report["Auto-Submitted"] == "auto-replied"
    assert report["From"].addresses[0].username == "MAILER-DAEMON"
    assert str(report["To"]) == "me@example.org"
    assert not report.defects


def test_the_delivery_status_fields(report):
    status = list(report.iter_parts())[1]
    blocks = status.get_payload()      # per-message block, then one per recipient
    assert blocks[0]["Reporting-MTA"] == "dns; host.example"
    assert blocks[0]["Arrival-Date"]
    rcpts = blocks[1:]
    assert [b["Final-Recipient"] for b in rcpts] == [
        "rfc822; a@example.com", "rfc822; b@example.com", "rfc822; root", "rfc822; c@example.com"]
    assert [b["Action"] for b in rcpts] == ["failed"] * 4
    assert [b["Status"] for b in rcpts] == ["5.1.1", "5.7.1", "5.0.0", "4.4.7"]
    assert rcpts[0]["Remote-MTA"] == "dns; relay.example"
    assert rcpts[0]["Diagnostic-Code"].startswith("smtp; 550 5.1.1 <a@example.com>: Recipient")
    assert "X-Injected" not in rcpts[1].keys()
    assert rcpts[2]["Diagnostic-Code"] == "x-mailout; unknown local user"
    assert rcpts[3]["Diagnostic-Code"] is None


def test_the_original_headers_are_returned_without_the_body(report):
    part = list(report.iter_parts())[2]
    text = part.get_content()
    assert "Subject: caf\u00e9 report" in text
    assert "never quoted" not in text
