"""
``netlab get`` speaks up about what it received: the response checks of
L{twisted_netlab.web._response_checks} print one ``warning:`` line each,
``--strict`` makes them an error (exit 9), ``-v``/``--raw`` show the bytes
of a head that never completed, and a reconnect says why.  On a
L{MemoryReactorClock} with in-memory stdout/stderr.
"""

from __future__ import annotations

import io

from twisted.trial.unittest import SynchronousTestCase

from tests.web.test_client import Harness, memory_endpoint
from twisted_netlab.web import cli

DATE = b"Date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"
OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n" + DATE + b"\r\nhello"


class FindingsTests(SynchronousTestCase):
    def run_main(self, *argv: str):
        parsed = cli.Options()
        parsed.parseOptions(list(argv))
        self.harness = Harness()
        self.stdout = io.BytesIO()
        self.stderr = io.StringIO()
        return cli.main(self.harness.reactor, parsed, self.stdout, self.stderr, memory_endpoint)

    def warnings(self):
        return [line for line in self.stderr.getvalue().splitlines() if "warning:" in line or "error:" in line]

    def test_clean_response_is_silent(self):
        """
        A well-formed response prints nothing on stderr.
        """
        result = self.run_main("http://h/a")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.stderr.getvalue(), "")

    def test_bare_lf_and_date_warn(self):
        """
        A bare-LF head and a Date that is not an IMF-fixdate each give one
        warning line; the body is still delivered and the exit code is 0.
        """
        result = self.run_main("http://h/a")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\nContent-Length: 2\nDate: today\n\nok")
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.stdout.getvalue(), b"ok")
        self.assertEqual(self.warnings(), [
            "netlab get: warning: 4 head line(s) end in a bare LF, not CRLF (RFC 9112 2.2)",
            "netlab get: warning: Date is not an IMF-fixdate (RFC 9110 5.6.7): 'today'",
        ])

    def test_strict_turns_warnings_into_exit_9(self):
        """
        With --strict the same findings are errors and the exit code is 9.
        """
        result = self.run_main("--strict", "http://h/a")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\nContent-Length: 2\n" + DATE.replace(b"\r\n", b"\n") + b"\nok")
        self.assertEqual(self.successResultOf(result), cli.STRICT_EXIT)
        lines = self.stderr.getvalue().splitlines()
        self.assertEqual(lines[0], "netlab get: error: 4 head line(s) end in a bare LF, not CRLF (RFC 9112 2.2)")
        self.assertIn("--strict", lines[-1])

    def test_bytes_after_the_body(self):
        """
        Bytes after a complete body are a warning.
        """
        result = self.run_main("http://h/a")
        self.harness.accept()
        self.harness.reply(0, OK + b"EXTRA")
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.warnings(), ["netlab get: warning: 5 bytes after the end of the last response: b'EXTRA'"])

    def test_no_length_no_close(self):
        """
        A body framed only by the close, without Connection: close, warns.
        """
        result = self.run_main("http://h/a")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\n" + DATE + b"\r\nbody")
        self.harness.close(0)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(len(self.warnings()), 1)
        self.assertIn("no Content-Length, no chunked and no Connection: close", self.warnings()[0])

    def test_head_never_completed_is_shown(self):
        """
        The lab's 404 (a status line, then a close): -v shows every byte
        that came, the warning says why, the error follows.
        """
        result = self.run_main("-v", "http://h/missing")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 404 Not Found\r\n<h1>404</h1>")
        self.harness.close(0)
        self.assertEqual(self.successResultOf(result), 18)
        lines = self.stderr.getvalue().splitlines()
        self.assertIn("< HTTP/1.1 404 Not Found", lines)
        self.assertIn("< <h1>404</h1>", lines)
        self.assertIn("before the empty line that ends the head", self.warnings()[0])

    def test_raw_shows_an_incomplete_head(self):
        """
        --raw writes the bytes of a head that never completed.
        """
        result = self.run_main("--raw", "http://h/missing")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 404 Not Found\r\n")
        self.harness.close(0)
        self.assertEqual(self.successResultOf(result), 18)
        self.assertEqual(self.stdout.getvalue(), b"HTTP/1.1 404 Not Found\r\n")

    def test_reconnect_says_why(self):
        """
        A server that closes a kept-alive connection after a response that
        did not say close: the second URL is fetched on a new connection,
        -v says why, and a warning names it.
        """
        result = self.run_main("-v", "http://h/a", "http://h/b")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.harness.close(0)
        self.harness.accept()
        self.harness.reply(1, OK)
        self.assertEqual(self.successResultOf(result), 0)
        lines = self.stderr.getvalue().splitlines()
        reason = "server closed the connection after the response without Connection: close"
        self.assertIn(f"* Reconnecting: {reason}", lines)
        self.assertEqual(self.warnings(), [f"netlab get: warning: {reason}"])

    def test_announced_close_is_no_warning(self):
        """
        Connection: close, then a new connection: -v says so, no warning.
        """
        closing = OK.replace(b"Content-Length", b"Connection: close\r\nContent-Length")
        result = self.run_main("-v", "http://h/a", "http://h/b")
        self.harness.accept()
        self.harness.reply(0, closing)
        self.harness.close(0)
        self.harness.accept()
        self.harness.reply(1, closing)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.warnings(), [])
