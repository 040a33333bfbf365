"""
Tests for L{twisted_netlab.web._accesslog}: the Combined Log Format line
and the batching L{AccessLog}.
"""

from twisted.internet.task import Clock
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._accesslog import AccessLog, combined_line, file_access_log, log_time


class AccessLogLineTests(SynchronousTestCase):
    def test_combined_format(self):
        """
        A line has host, identity, user, time, request, status, bytes,
        referer and user agent in Combined Log Format.
        """
        line = combined_line("127.0.0.1", log_time(784111777), "GET / HTTP/1.1", 200, 12, b"http://r/", b"curl/8")
        self.assertEqual(
            line, '127.0.0.1 - - [06/Nov/1994:08:49:37 +0000] "GET / HTTP/1.1" 200 12 "http://r/" "curl/8"'
        )

    def test_no_body_and_missing_headers_are_dashes(self):
        """
        Zero bytes and absent headers are written as "-".
        """
        line = combined_line("::1", "[t]", "HEAD / HTTP/1.1", 304, 0, None, None)
        self.assertTrue(line.endswith('304 - "-" "-"'))

    def test_quotes_and_controls_escaped(self):
        """
        Quotes, backslashes and bytes outside printable ASCII are written as
        \\xHH, so a client cannot end the field or forge a line.
        """
        line = combined_line("h", "[t]", "GET /a\"b HTTP/1.1", 200, 1, None, b'evil" \\ \x1b\xff')
        self.assertIn('"GET /a\\x22b HTTP/1.1"', line)
        self.assertIn('"evil\\x22 \\x5C \\x1B\\xFF"', line)
        self.assertNotIn("\n", line)

    def test_reason_is_one_more_escaped_field(self):
        """
        A reason follows the user agent as one more quoted, escaped field;
        without one the line is plain Combined Log Format.
        """
        line = combined_line("h", "[t]", "-", 400, 10, None, None, 'bad "x"\n')
        self.assertTrue(line.endswith('400 10 "-" "-" "bad \\x22x\\x22\\x0A"'), line)
        self.assertTrue(combined_line("h", "[t]", "-", 200, 1, None, None).endswith('"-" "-"'))


class EscapeBoundaryTests(SynchronousTestCase):
    def test_every_byte_outside_printable_ascii_is_escaped(self):
        """
        Space and tilde are written as they are; DEL (0x7F), 0xFF and
        U+0100 are escaped, the first two as \\xHH.
        """
        line = combined_line("h", "[t]", "-", 200, 1, None, " ~\x7f\xff\u0100".encode("latin-1", "replace"))
        agent = line.split('" "')[-1]
        self.assertTrue(agent.startswith(" ~\\x7F\\xFF"), agent)
        self.assertIn("\\u0100", combined_line("h", "[t]", "-", 200, 1, None, None, "\u0100"))


class AccessLogBufferTests(SynchronousTestCase):
    def test_batches_by_interval_size_and_close(self):
        """
        Lines are written in one batch per interval, at once when
        C{max_lines} wait, and the rest on close; nothing after close.
        """
        batches = []
        clock = Clock()
        log = AccessLog(batches.append, clock, interval=1.0, max_lines=3)
        log.add("a")
        clock.advance(0.5)
        self.assertEqual(batches, [])
        clock.advance(0.5)
        self.assertEqual(batches, [["a"]])
        log.add("b")
        log.add("c")
        log.add("d")
        self.assertEqual(batches, [["a"], ["b", "c", "d"]])
        log.add("e")
        clock.advance(1)
        log.add("f")
        log.close()
        self.assertEqual(batches, [["a"], ["b", "c", "d"], ["e"], ["f"]])
        self.assertEqual(clock.getDelayedCalls(), [])

    def test_default_batch_is_512_lines(self):
        """
        By default a batch is written at once when 512 lines wait.
        """
        batches = []
        log = AccessLog(batches.append, Clock())
        for number in range(511):
            log.add(str(number))
        self.assertEqual(batches, [])
        log.add("511")
        self.assertEqual([len(batch) for batch in batches], [512])
        log.close()

    def test_file_access_log_appends(self):
        """
        The file log appends whole lines and closes cleanly.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("old\n")
        log, close = file_access_log(path, Clock())
        log.add("new")
        close()
        with open(path) as f:
            self.assertEqual(f.read(), "old\nnew\n")
