"""
Tests for L{twisted_netlab.web._response_checks}: the tolerant response
reader and the findings ``netlab get`` and ``netlab check http`` share.
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web import _response_checks as checks
from twisted_netlab.web._response_checks import is_imf_fixdate, read_responses, response_findings

GOOD = (b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
        b"Content-Length: 5\r\nContent-Type: text/plain\r\n\r\nhello")


def codes(data, methods=("GET",), closed=True):
    return sorted({f.code for f in response_findings(data, list(methods), closed)})


class ReadResponsesTests(SynchronousTestCase):
    def test_well_formed_response_has_no_findings(self):
        """
        A framed HTTP/1.1 response with an IMF-fixdate Date raises nothing.
        """
        reading = read_responses(GOOD, ["GET"], closed=False)
        [response] = reading.responses
        self.assertEqual((response.status, response.body, response.complete), (200, b"hello", True))
        self.assertTrue(response.keep_alive)
        self.assertEqual(codes(GOOD, closed=False), [])

    def test_incomplete_head_is_not_a_response_yet(self):
        """
        A head still arriving is returned incomplete, with no findings.
        """
        reading = read_responses(GOOD[:20], ["GET"], closed=False)
        self.assertFalse(reading.responses[0].complete)
        self.assertEqual(reading.all_findings(), [])

    def test_nothing_received(self):
        """
        No bytes: no response, no finding.
        """
        self.assertEqual(read_responses(b"", ["GET"], closed=False).responses, ())

    def test_pipelined_responses_in_order(self):
        """
        Two framed responses on one connection are both read, in order.
        """
        data = GOOD + GOOD.replace(b"hello", b"world")
        reading = read_responses(data, ["GET", "GET"], closed=False)
        self.assertEqual([r.body for r in reading.finals], [b"hello", b"world"])
        self.assertEqual(reading.leftover, b"")

    def test_head_response_has_no_body(self):
        """
        A response to HEAD ends with its head whatever Content-Length says;
        bytes after it are left over (a body HEAD must not have).
        """
        reading = read_responses(GOOD, ["HEAD"], closed=False)
        self.assertEqual(reading.finals[0].body, b"")
        self.assertEqual(reading.leftover, b"hello")

    def test_chunked_body_is_decoded(self):
        """
        A chunked body is decoded and complete after the last chunk.
        """
        data = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
        response = read_responses(data, ["GET"], closed=False).finals[0]
        self.assertEqual((response.body, response.complete, response.framing), (b"hello", True, "chunked"))

    def test_interim_response_does_not_use_up_the_request(self):
        """
        A 100 Continue is read as interim; the final response follows.
        """
        data = b"HTTP/1.1 100 Continue\r\n\r\n" + GOOD
        reading = read_responses(data, ["POST"], closed=False)
        self.assertEqual([r.status for r in reading.responses], [100, 200])
        self.assertEqual(len(reading.finals), 1)


class FindingTests(SynchronousTestCase):
    """
    Each departure ``netlab get`` warns about is found, with its code.
    """

    CASES = [
        ("bare LF", b"HTTP/1.1 200 OK\nContent-Length: 2\nDate: Sun, 06 Nov 1994 08:49:37 GMT\n\nok", [checks.BARE_LF]),
        ("no colon", GOOD.replace(b"Content-Type: text/plain", b"Content-Type text/plain"), [checks.NO_COLON]),
        ("extra bytes", GOOD + b"junk", [checks.EXTRA_BYTES]),
        ("no framing, open", b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\n\r\nbody", [checks.NO_FRAMING]),
        ("bad date", GOOD.replace(b"Sun, 06 Nov 1994 08:49:37 GMT", b"1994-11-06T08:49:37Z"), [checks.DATE_FORMAT]),
        ("short body", GOOD[:-2], [checks.LENGTH_MISMATCH]),
        ("head cut by close", b"HTTP/1.1 404 Not Found\r\n", [checks.HEAD_UNTERMINATED]),
        ("HTTP/0.9", b"<html>hi</html>", [checks.NO_STATUS_LINE]),
        ("bad status line", GOOD.replace(b"HTTP/1.1 200 OK", b"HTTP/1.1 OK 200"), [checks.BAD_STATUS_LINE]),
        ("obs-fold", GOOD.replace(b"Content-Type: text/plain", b"Content-Type: text/\r\n plain"), [checks.OBS_FOLD]),
        ("bad length", GOOD.replace(b"Content-Length: 5", b"Content-Length: five"), [checks.BAD_CONTENT_LENGTH,
                                                                                   checks.NO_FRAMING]),
    ]

    def test_findings(self):
        """
        Every malformed response in the table gives exactly its findings.
        """
        for name, data, expected in self.CASES:
            closed = name in ("short body", "head cut by close", "HTTP/0.9", "bad length")
            self.assertEqual(codes(data, closed=closed), sorted(expected), name)

    def test_keep_alive_then_close(self):
        """
        A server that closes after a response that did not say close, while
        another request was outstanding, is found out.
        """
        reading = read_responses(GOOD, ["GET", "GET"], closed=True)
        self.assertIn(checks.KEEP_ALIVE_CLOSED, [f.code for f in reading.findings])

    def test_close_announced_is_fine(self):
        """
        Connection: close followed by a close is no finding.
        """
        data = GOOD.replace(b"Content-Type", b"Connection: close\r\nContent-Type")
        self.assertEqual(codes(data, methods=("GET", "GET"), closed=True), [])

    def test_http10_close_is_fine(self):
        """
        An HTTP/1.0 response without keep-alive means close: no finding.
        """
        data = GOOD.replace(b"HTTP/1.1", b"HTTP/1.0")
        self.assertEqual(codes(data, methods=("GET", "GET"), closed=True), [])

    def test_close_delimited_with_close_header_is_fine(self):
        """
        No length but Connection: close, then a close: a legal framing.
        """
        data = b"HTTP/1.1 200 OK\r\nDate: Sun, 06 Nov 1994 08:49:37 GMT\r\nConnection: close\r\n\r\nbody"
        self.assertEqual(codes(data, closed=True), [])


class DateTests(SynchronousTestCase):
    def test_imf_fixdate(self):
        """
        Only the RFC 9110 5.6.7 preferred form with a true weekday passes.
        """
        self.assertTrue(is_imf_fixdate("Sun, 06 Nov 1994 08:49:37 GMT"))
        for value in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Mon, 06 Nov 1994 08:49:37 GMT",
                      "Sun, 6 Nov 1994 08:49:37 GMT", "Sun, 06 Nov 1994 08:49:37 UTC", "Sun, 31 Feb 1994 08:49:37 GMT"]:
            self.assertFalse(is_imf_fixdate(value), value)
