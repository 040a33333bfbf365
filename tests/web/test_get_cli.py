"""
Tests for L{twisted_netlab.web.cli}: option validation and L{main}'s
output modes and exit codes, on a L{MemoryReactorClock} with in-memory
stdout/stderr.
"""

from __future__ import annotations

import io
import os

from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from tests.web.test_client import Harness, memory_endpoint
from twisted_netlab.web import cli

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Server: test\r\n\r\nhello"


def options(*argv: str) -> cli.Options:
    parsed = cli.Options()
    parsed.parseOptions(list(argv))
    return parsed


class TTYStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


class OptionsTests(SynchronousTestCase):
    def test_options_after_urls(self):
        """
        Options may follow the URL, as with curl.
        """
        parsed = options("http://h/", "-o", "out", "-H", "X-A: 1", "--fail")
        self.assertEqual((parsed["urls"], parsed["output"], parsed["header"], parsed["fail"]), (["http://h/"], "out", [("X-A", "1")], True))

    def test_refusals(self):
        """
        Every contradictory or dangerous combination is a usage error.
        """
        for argv in (
            [],
            ["-H", "X-A: 1\r\nX-Injected: 2", "http://h/"],
            ["-H", "no colon", "http://h/"],
            ["-o", "f", "http://h/1", "http://h/2"],
            ["-o", "f", "-O", "http://h/"],
            ["--pipeline", "-L", "http://h/"],
            ["--range", "9-1", "http://h/"],
            ["--if-modified-since", "not a date", "http://h/"],
            ["--max-time", "-1", "http://h/"],
            ["--connect-timeout", "0", "http://h/"],
            ["--cafile", "x", "--insecure", "http://h/"],
            ["--no-such-flag", "http://h/"],
        ):
            self.assertRaises(usage.UsageError, options, *argv)

    def test_conditional_values(self):
        """
        --if-modified-since takes an HTTP date or a file's mtime; --etag is
        quoted when bare.
        """
        parsed = options("-z", "Sun, 06 Nov 1994 08:49:37 GMT", "--etag", "abc", "http://h/")
        self.assertEqual(parsed["if-modified-since"], "Sun, 06 Nov 1994 08:49:37 GMT")
        self.assertEqual(parsed["etag"], '"abc"')
        path = self.mktemp()
        with open(path, "w"):
            pass
        os.utime(path, (784111777, 784111777))
        self.assertEqual(options("-z", path, "http://h/")["if-modified-since"], "Sun, 06 Nov 1994 08:49:37 GMT")


class MainTests(SynchronousTestCase):
    def run_main(self, *argv: str, stderr=None):
        self.harness = Harness()
        self.stdout = io.BytesIO()
        self.stderr = stderr if stderr is not None else io.StringIO()
        return cli.main(self.harness.reactor, options(*argv), self.stdout, self.stderr, memory_endpoint)

    def test_body_to_stdout(self):
        """
        By default only the body goes to stdout, and the exit code is 0.
        """
        result = self.run_main("http://h/a")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.stdout.getvalue(), b"hello")
        self.assertEqual(self.stderr.getvalue(), "")

    def test_include_and_verbose(self):
        """
        -i writes the head before the body; -v shows > request and <
        response lines on stderr.
        """
        result = self.run_main("-i", "-v", "http://h/a")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.stdout.getvalue(), OK)
        lines = self.stderr.getvalue().splitlines()
        self.assertIn("> GET /a HTTP/1.1", lines)
        self.assertIn("> Host: h", lines)
        self.assertIn("< HTTP/1.1 200 OK", lines)
        self.assertIn("< X-Server: test", lines)

    def test_head(self):
        """
        -I sends HEAD and writes the headers.
        """
        result = self.run_main("-I", "http://h/a")
        transport = self.harness.accept()
        self.assertTrue(transport.value().startswith(b"HEAD /a HTTP/1.1\r\n"))
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.stdout.getvalue(), b"HTTP/1.1 200 OK\r\nContent-Length: 500\r\n\r\n")

    def test_raw_exact_bytes(self):
        """
        --raw writes the response exactly as received, chunk framing and
        all, and asks the server to close like the course lab.
        """
        wire = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n"
        result = self.run_main("--raw", "http://h/")
        transport = self.harness.accept()
        self.assertIn(b"Connection: close\r\n", transport.value())
        self.harness.reply(0, wire)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(self.stdout.getvalue(), wire)

    def test_fail(self):
        """
        --fail turns a 4xx into exit 22 with one line, writing no body.
        """
        result = self.run_main("--fail", "http://h/missing")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found")
        self.assertEqual(self.successResultOf(result), 22)
        self.assertEqual(self.stdout.getvalue(), b"")
        self.assertEqual(self.stderr.getvalue(), "netlab get: the requested URL returned error: 404 Not Found\n")

    def test_malformed_url_exit_3(self):
        """
        A malformed URL is exit 3 before any connection.
        """
        result = self.run_main("http://bad host/")
        self.assertEqual(self.successResultOf(result), 3)
        self.assertEqual(self.harness.reactor.tcpClients, [])
        self.assertTrue(self.stderr.getvalue().startswith("netlab get: malformed URL"))

    def test_max_time_exit_28(self):
        """
        --max-time cuts a stalled transfer with exit 28.
        """
        result = self.run_main("--max-time", "5", "http://h/")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nab")
        self.harness.reactor.advance(5.1)
        self.assertEqual(self.successResultOf(result), 28)
        self.assertIn("timed out", self.stderr.getvalue())

    def test_range_and_conditionals_sent(self):
        """
        --range, -z and --etag become request headers; -H replaces defaults.
        """
        result = self.run_main("-r", "0-9", "-z", "Sun, 06 Nov 1994 08:49:37 GMT", "--etag", "v1", "-H", "User-Agent: x", "http://h/")
        transport = self.harness.accept()
        request = transport.value()
        for line in (b"Range: bytes=0-9", b"If-Modified-Since: Sun, 06 Nov 1994 08:49:37 GMT", b'If-None-Match: "v1"', b"User-Agent: x\r\n"):
            self.assertIn(line, request)
        self.assertNotIn(b"netlab-get", request)
        self.harness.reply(0, b"HTTP/1.1 206 Partial\r\nContent-Length: 2\r\n\r\nab")
        self.assertEqual(self.successResultOf(result), 0)

    def test_timing(self):
        """
        --timing reports connect, TLS, first byte, total, bytes and speed.
        """
        result = self.run_main("--timing", "http://h/")
        self.harness.reactor.advance(0.5)
        self.harness.accept()
        self.harness.reactor.advance(0.25)
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 0)
        report = self.stderr.getvalue()
        for word in ("connect     0.500000 s", "tls         -", "first byte  0.750000 s", "bytes       5", "speed"):
            self.assertIn(word, report)

    def test_progress_only_on_tty_and_large(self):
        """
        The progress bar appears on a TTY stderr for a large body, never
        for a small one or a non-TTY.
        """
        big = 3 * 1024 * 1024
        for stderr, size, expected in ((TTYStringIO(), big, True), (TTYStringIO(), 10, False), (io.StringIO(), big, False)):
            result = self.run_main("http://h/", stderr=stderr)
            self.harness.accept()
            self.harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size)
            for _ in range(4):
                self.harness.reactor.advance(0.3)
                self.harness.reply(0, b"x" * (size // 4))
            self.harness.reply(0, b"x" * (size - 4 * (size // 4)))
            self.assertEqual(self.successResultOf(result), 0)
            self.assertEqual("100.0%" in stderr.getvalue(), expected, stderr.getvalue())

    def test_insecure_warns(self):
        """
        --insecure on an https URL warns on stderr.
        """
        result = self.run_main("-k", "https://h/")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertIn("NOT verified", self.stderr.getvalue())


class OutputFileTests(SynchronousTestCase):
    def setUp(self):
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)
        previous = os.getcwd()
        os.chdir(self.folder)
        self.addCleanup(os.chdir, previous)

    def run_main(self, *argv: str):
        self.harness = Harness()
        self.stderr = io.StringIO()
        return cli.main(self.harness.reactor, options(*argv), io.BytesIO(), self.stderr, memory_endpoint)

    def test_remote_name(self):
        """
        -O saves under the URL path's last segment in the current folder,
        even when a redirect points elsewhere.
        """
        result = self.run_main("-O", "-L", "http://h/dir/file.txt")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 302 Found\r\nLocation: /etc/passwd\r\nContent-Length: 0\r\n\r\n" + OK)
        self.assertEqual(self.successResultOf(result), 0)
        self.assertEqual(os.listdir(self.folder), ["file.txt"])
        with open("file.txt", "rb") as handle:
            self.assertEqual(handle.read(), b"hello")

    def test_remote_name_refused(self):
        """
        -O without a usable name is exit 23 before connecting.
        """
        for url in ("http://h/", "http://h/..", "http://h/.profile"):
            result = self.run_main("-O", url)
            self.assertEqual(self.successResultOf(result), 23)
            self.assertEqual(self.harness.reactor.tcpClients, [])
        self.assertEqual(os.listdir(self.folder), [])

    def test_remote_name_does_not_follow_symlink(self):
        """
        A symlink named like the file is not followed out of the folder.
        """
        outside = os.path.abspath(self.mktemp())
        with open(outside, "wb") as handle:
            handle.write(b"precious")
        os.symlink(outside, "file.txt")
        result = self.run_main("-O", "http://h/file.txt")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 23)
        with open(outside, "rb") as handle:
            self.assertEqual(handle.read(), b"precious")

    def test_not_modified_keeps_file(self):
        """
        A 304 leaves the -o file untouched (conditional cache use).
        """
        with open("cached", "wb") as handle:
            handle.write(b"old copy")
        result = self.run_main("-o", "cached", "-z", "cached", "http://h/")
        transport = self.harness.accept()
        self.assertIn(b"If-Modified-Since: ", transport.value())
        self.harness.reply(0, b"HTTP/1.1 304 Not Modified\r\n\r\n")
        self.assertEqual(self.successResultOf(result), 0)
        with open("cached", "rb") as handle:
            self.assertEqual(handle.read(), b"old copy")

    def test_unwritable_output_exit_23(self):
        """
        An output file that cannot be opened is exit 23 with one line.
        """
        result = self.run_main("-o", os.path.join(self.folder, "no", "such", "dir"), "http://h/")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 23)
        self.assertEqual(len(self.stderr.getvalue().splitlines()), 1)

    def test_etag_cache_round_trip(self):
        """
        --etag-save stores the ETag of a 2xx; --etag-compare sends it back as
        If-None-Match, and a missing tag file just sends nothing.
        """
        result = self.run_main("--etag-compare", "tag", "--etag-save", "tag", "-o", "copy", "http://h/")
        transport = self.harness.accept()
        self.assertNotIn(b"If-None-Match", transport.value())
        self.harness.reply(0, b'HTTP/1.1 200 OK\r\nETag: "v7"\r\nContent-Length: 2\r\n\r\nok')
        self.assertEqual(self.successResultOf(result), 0)
        with open("tag") as handle:
            self.assertEqual(handle.read(), '"v7"\n')
        result = self.run_main("--etag-compare", "tag", "--etag-save", "tag", "-o", "copy", "http://h/")
        transport = self.harness.accept()
        self.assertIn(b'If-None-Match: "v7"\r\n', transport.value())
        self.harness.reply(0, b'HTTP/1.1 304 Not Modified\r\nETag: "v7"\r\n\r\n')
        self.assertEqual(self.successResultOf(result), 0)
        with open("copy", "rb") as handle:
            self.assertEqual(handle.read(), b"ok")


class ClosedStdout(io.BytesIO):
    """
    stdout whose reader went away (``netlab get URL | head -c 10``).
    """

    def write(self, data):
        raise BrokenPipeError(32, "Broken pipe")


class LimitTests(SynchronousTestCase):
    def setUp(self):
        self.folder = os.path.abspath(self.mktemp())
        os.makedirs(self.folder)

    def run_main(self, *argv: str, stdout=None):
        self.harness = Harness()
        self.stdout = stdout if stdout is not None else io.BytesIO()
        self.stderr = io.StringIO()
        return cli.main(self.harness.reactor, options(*argv), self.stdout, self.stderr, memory_endpoint)

    def test_announced_size_over_max_filesize(self):
        """
        --max-filesize refuses a body whose Content-Length is larger before
        writing any of it (the -o file is not even created): exit 63, as curl.
        """
        path = os.path.join(self.folder, "out")
        result = self.run_main("--max-filesize", "100", "-o", path, "http://h/big")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 101\r\n\r\n" + b"x" * 50)
        self.assertEqual(self.successResultOf(result), 63)
        self.assertFalse(os.path.exists(path))
        self.assertEqual(
            self.stderr.getvalue(),
            "netlab get: maximum file size exceeded: the server announced 101 bytes, more than --max-filesize 100\n",
        )

    def test_endless_chunked_body_cut_at_max_filesize(self):
        """
        A body of unknown length is cut as soon as more than --max-filesize
        bytes came; what was written stays within the limit.
        """
        result = self.run_main("--max-filesize", "1k", "http://h/endless")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        chunk = b"190\r\n" + b"y" * 400 + b"\r\n"
        for _ in range(3):
            self.harness.reply(0, chunk)
        self.assertEqual(self.successResultOf(result), 63)
        self.assertEqual(self.stdout.getvalue(), b"y" * 800)
        self.assertIn("larger than --max-filesize 1024 bytes", self.stderr.getvalue())
        self.assertTrue(self.harness.transports[0].disconnecting or self.harness.protocols[0].lost)

    def test_size_equal_to_the_limit_passes(self):
        """
        A body of exactly --max-filesize bytes is fine.
        """
        result = self.run_main("--max-filesize", "5", "http://h/")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual((self.successResultOf(result), self.stdout.getvalue()), (0, b"hello"))

    def test_dripping_server_is_too_slow(self):
        """
        A server that sends a byte every 2 s keeps the idle timer alive, but
        --speed-limit 100 --speed-time 3 ends the transfer once 3 s have
        gone by with fewer than 300 bytes: exit 28.
        """
        result = self.run_main("--speed-limit", "100", "--speed-time", "3", "http://h/drip")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
        clock = self.harness.reactor
        for step in range(12):
            clock.advance(0.5)
            if step % 4 == 3:
                self.harness.reply(0, b"z")
        self.assertEqual(self.successResultOf(result), 28)
        self.assertIn("operation too slow", self.stderr.getvalue())
        self.assertLessEqual(clock.seconds(), 6.0)

    def test_fast_transfer_is_not_too_slow(self):
        """
        A transfer faster than --speed-limit completes.
        """
        result = self.run_main("-Y", "10", "-y", "1", "http://h/")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 40\r\n\r\n")
        for _ in range(4):
            self.harness.reactor.advance(0.5)
            self.harness.reply(0, b"a" * 10)
        self.assertEqual(self.successResultOf(result), 0)

    def test_interrupted(self):
        """
        Ctrl+C (the reactor shutting down) mid-transfer says 'interrupted'
        and exits 130, not the receive error the closing causes.
        """
        result = self.run_main("http://h/slow")
        self.harness.accept()
        self.harness.reply(0, b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        [(trigger, args, kwargs)] = self.harness.reactor.triggers["before"]["shutdown"]
        trigger(*args, **kwargs)
        self.harness.close(0)
        self.assertEqual(self.successResultOf(result), 130)
        self.assertEqual(self.stderr.getvalue(), "netlab get: interrupted\n")

    def test_shutdown_after_the_end_says_nothing(self):
        """
        The reactor stopping after the command finished is not an interruption.
        """
        result = self.run_main("http://h/")
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 0)
        [(trigger, args, kwargs)] = self.harness.reactor.triggers["before"]["shutdown"]
        trigger(*args, **kwargs)
        self.assertEqual(self.stderr.getvalue(), "")

    def test_closed_stdout_is_141_quietly(self):
        """
        A reader that went away (| head -c 10) ends the command with 141 and
        nothing on stderr, as for ping, beat and mail (and curl's SIGPIPE).
        """
        result = self.run_main("http://h/", stdout=ClosedStdout())
        self.harness.accept()
        self.harness.reply(0, OK)
        self.assertEqual(self.successResultOf(result), 141)
        self.assertEqual(self.stderr.getvalue(), "")
