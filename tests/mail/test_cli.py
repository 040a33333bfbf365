"""
Tests for ``netlab mail`` (L{twisted_netlab.mail.cli}): option validation,
where the password may come from, and the exit code and messages for each
phase, with the connection made on a MemoryReactorClock and the server's
replies scripted.
"""

from __future__ import annotations

import email
import email.policy
import io
import os

from twisted.internet.error import ConnectionRefusedError
from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.python.failure import Failure
from twisted.trial.unittest import SynchronousTestCase

from tests.mail.test_client import TLSStringTransport
from twisted_netlab.mail._client_core import TLSMode
from twisted_netlab.mail.cli import PASSWORD_ENVIRONMENT_VARIABLE, Options, main, resolve_password


class FakeStdin(io.BytesIO):
    def __init__(self, data: bytes = b"", tty: bool = False) -> None:
        super().__init__(data)
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty

    @property
    def buffer(self):
        return self


def parse(*argv: str, stdin: bytes = b"", tty: bool = False) -> Options:
    options = Options()
    options.stdin = FakeStdin(stdin, tty)
    options.parseOptions(list(argv))
    return options


BASIC = ("--from", "alice@example.com", "--to", "bob@example.com")


def hermetic_environment(testcase):
    """
    No password in the environment, and XDG folders of the test's own: no
    user's servers file or lab certificate leaks in.
    """
    home = os.path.abspath(testcase.mktemp())
    os.makedirs(home)
    environ = {k: v for k, v in os.environ.items() if k != PASSWORD_ENVIRONMENT_VARIABLE}
    environ.update(XDG_DATA_HOME=os.path.join(home, "data"), XDG_CONFIG_HOME=os.path.join(home, "config"))
    testcase.patch(os, "environ", environ)
    return home


class OptionsTests(SynchronousTestCase):
    def setUp(self):
        self.home = hermetic_environment(self)

    def test_password_on_command_line_refused(self):
        """
        --password is refused with the reason and the alternatives.
        """
        with self.assertRaises(usage.UsageError) as caught:
            parse(*BASIC, "--user", "alice", "--password", "secret")
        self.assertIn("--password-file", str(caught.exception))

    def test_required_and_conflicting_options(self):
        """
        Missing sender or recipients, bad --tls, several body sources, --raw
        with --attach, --insecure with --cafile: each a usage error.
        """
        for argv in [
            ("--to", "bob@example.com"),
            ("--from", "alice@example.com"),
            BASIC + ("--tls", "maybe"),
            BASIC + ("--body", "x", "--raw", "-"),
            BASIC + ("--raw", "-", "--attach", "/etc/hostname"),
            BASIC + ("--insecure", "--cafile", "/etc/hostname"),
            BASIC + ("--auth", "PLAIN"),
            BASIC + ("--timeout", "0"),
            BASIC + ("--port", "70000"),
            BASIC + ("--attach", "/nonexistent/file"),
        ]:
            with self.assertRaises(usage.UsageError, msg=argv):
                parse(*argv)

    def test_server_with_port(self):
        """
        --server takes host:port and [IPv6]:port; a bare IPv6 address is a
        host; a port given twice must agree.
        """
        table = [
            ("mail.example.org:587", ("mail.example.org", 587)),
            ("[::1]:2525", ("::1", 2525)),
            ("::1", ("::1", None)),
            ("[::1]", ("::1", None)),
            ("127.0.0.1", ("127.0.0.1", None)),
        ]
        for server, expected in table:
            options = parse(*BASIC, "--server", server)
            self.assertEqual((options["server"], options["port"]), expected, server)
        with self.assertRaises(usage.UsageError):
            parse(*BASIC, "--server", "a.example:25", "--port", "587")
        with self.assertRaises(usage.UsageError):
            parse(*BASIC, "--server", "smtp://a.example")

    def test_header_injection_is_a_usage_error(self):
        """
        A subject or address carrying a line break is refused before any
        connection, naming the problem.
        """
        for argv in [
            BASIC + ("--subject", "hi\nBcc: all@example.com"),
            ("--from", "alice@example.com\r\nX: y", "--to", "bob@example.com"),
            BASIC + ("--header", "X-A: b\nBcc: all@example.com"),
        ]:
            with self.assertRaises(usage.UsageError) as caught:
                parse(*argv)
            self.assertIn("inject", str(caught.exception))

    def test_message_built_from_options(self):
        """
        To/Cc are headers, Bcc only an envelope recipient; attachments are
        attached; the body comes from --body.
        """
        attachment = self.mktemp() + ".pdf"
        with open(attachment, "wb") as f:
            f.write(b"%PDF-1.4 fake")
        options = parse(
            *BASIC, "--cc", "Carol <carol@example.com>", "--bcc", "dave@example.com",
            "--subject", "Grüße", "--body", "hello", "--attach", attachment,
        )
        parsed = email.message_from_bytes(options["message"], policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "Grüße")
        self.assertEqual(parsed["Cc"], "Carol <carol@example.com>")
        self.assertIsNone(parsed["Bcc"])
        self.assertNotIn(b"dave@", options["message"])
        [part] = parsed.iter_attachments()
        self.assertEqual((part.get_content_type(), part.get_content()), ("application/pdf", b"%PDF-1.4 fake"))

    def test_body_from_stdin_when_not_a_terminal(self):
        """
        Without --body, the text is read from stdin unless it is a terminal.
        """
        options = parse(*BASIC, stdin=b"piped text\n")
        self.assertIn(b"piped text", options["message"])
        options = parse(*BASIC, stdin=b"ignored", tty=True)
        self.assertNotIn(b"ignored", options["message"])

    def test_overlong_line_refused_before_connecting(self):
        """
        A --raw message with a line longer than SMTP allows is a usage error.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"Subject: long\n\n" + b"x" * 1200 + b"\n")
        with self.assertRaises(usage.UsageError) as caught:
            parse(*BASIC, "--raw", path)
        self.assertIn("line 3 is 1200 bytes", str(caught.exception))

    def test_raw_message(self):
        """
        --raw sends the file as it is.
        """
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(b"Subject: raw\n\nbody\n")
        self.assertEqual(parse(*BASIC, "--raw", path)["message"], b"Subject: raw\n\nbody\n")

    def test_password_sources(self):
        """
        The password comes from --password-file (first line), else the
        environment variable, else a prompt, which is only used on a terminal.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("from file\nsecond line\n")
        options = parse(*BASIC, "--user", "alice", "--password-file", path)
        self.assertEqual(resolve_password(options), "from file")
        os.environ[PASSWORD_ENVIRONMENT_VARIABLE] = "from env"
        self.assertEqual(resolve_password(parse(*BASIC, "--user", "alice")), "from env")
        del os.environ[PASSWORD_ENVIRONMENT_VARIABLE]
        options = parse(*BASIC, "--user", "alice")
        prompted = []
        self.assertEqual(
            resolve_password(options, FakeStdin(tty=True), lambda text: prompted.append(text) or "typed"), "typed"
        )
        self.assertEqual(prompted, ["Password for alice: "])
        with self.assertRaises(usage.UsageError):
            resolve_password(options, FakeStdin(tty=False), lambda text: self.fail("prompted"))


def run(testcase, argv, replies=None, refuse=False):
    """
    Run main() on a MemoryReactorClock; feed C{replies} to the client.
    Returns (exit code, stdout, stderr, what the client wrote).  The server
    is 127.0.0.1 unless C{argv} names one (the default, the lab's sink,
    would need its certificate).
    """
    if "--server" not in argv:
        argv = ("--server", "127.0.0.1") + tuple(argv)
    options = parse(*argv)
    reactor = MemoryReactorClock()
    out, err = io.StringIO(), io.StringIO()
    result = main(reactor, options, out=out, err=err)
    transport = TLSStringTransport()
    if reactor.tcpClients:
        [(_, _, factory, _, _)] = reactor.tcpClients
        if refuse:
            factory.clientConnectionFailed(None, Failure(ConnectionRefusedError("refused")))
        else:
            protocol = factory.buildProtocol(None)
            transport.protocol = protocol
            protocol.makeConnection(transport)
            for chunk in [replies] if isinstance(replies, bytes) else replies:
                protocol.dataReceived(chunk)
            if not transport.disconnecting:
                protocol.connectionLost(Failure(ConnectionRefusedError("gone")))
    if not isinstance(result, int):
        result = testcase.successResultOf(result)
    return result, out.getvalue(), err.getvalue(), transport.value()


PLAIN = BASIC + ("--tls", "none", "--body", "hi")
GREET = b"220 mx\r\n250-mx\r\n250 SIZE 100000\r\n"


class ExitCodeTests(SynchronousTestCase):
    def setUp(self):
        hermetic_environment(self)

    def test_delivered(self):
        """
        Delivered to everyone: exit 0, a report on stdout.
        """
        code, out, err, _ = run(self, PLAIN, GREET + b"250 ok\r\n250 ok\r\n354 go\r\n250 2.0.0 queued\r\n221 bye\r\n")
        self.assertEqual((code, err), (0, ""))
        self.assertIn("accepted bob@example.com", out)
        self.assertIn("sent to 1 of 1 recipients: 250 2.0.0 queued", out)

    def test_partial(self):
        """
        Some recipients refused: exit 1, each refusal reported with its reply.
        """
        code, out, _, _ = run(
            self, PLAIN + ("--to", "nobody@example.com"),
            GREET + b"250 ok\r\n250 ok\r\n550 5.1.1 unknown\r\n354 go\r\n250 ok\r\n221 bye\r\n",
        )
        self.assertEqual(code, 1)
        self.assertIn("refused  nobody@example.com: 550 5.1.1 unknown", out)

    def test_phase_codes(self):
        """
        Each phase has its exit code, and the error quotes the server.
        """
        table = [
            (BASIC + ("--body", "x"), GREET + b"221 bye\r\n", 5, "STARTTLS"),
            (PLAIN, b"554 no\r\n", 4, "554 no"),
            (PLAIN, GREET + b"550 5.7.1 sender denied\r\n221 bye\r\n", 7, "MAIL FROM: server refused the sender: 550 5.7.1 sender denied"),
            (PLAIN, GREET + b"250 ok\r\n550 5.1.1 no\r\n221 bye\r\n", 7, "refused bob@example.com: 550 5.1.1 no"),
            (PLAIN, GREET + b"250 ok\r\n250 ok\r\n354 go\r\n554 5.6.0 spam\r\n221 bye\r\n", 8, "554 5.6.0 spam"),
            (PLAIN, GREET + b"250 ok\r\n250 ok\r\n451 4.3.0 later\r\n221 bye\r\n", 8, "DATA"),
        ]
        for argv, replies, expected, quoted in table:
            code, _, err, _ = run(self, argv, replies)
            self.assertEqual(code, expected, err)
            self.assertIn(quoted, err)

    def test_auth_failure_exit_6(self):
        """
        A refused AUTH exits 6; the password never appears in any output.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("hunter2\n")
        argv = BASIC + ("--insecure", "--user", "alice", "--password-file", path, "-v", "--body", "x")
        code, out, err, written = run(
            self,
            argv,
            [
                b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 ready\r\n",
                b"250-mx\r\n250 AUTH LOGIN\r\n334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n535 5.7.8 no\r\n",
            ],
        )
        self.assertEqual(code, 6)
        self.assertIn("535 5.7.8 no", err)
        self.assertIn("WARNING: --insecure", err)
        self.assertIn("-> AUTH LOGIN", out)
        self.assertNotIn("hunter2", out + err)
        self.assertIn(b"aHVudGVyMg==", written)  # it was sent, base64, on the wire only
        self.assertNotIn("aHVudGVyMg==", out)

    def test_interrupted_exit_130(self):
        """
        Ctrl+C (the reactor shutting down) while the server has not even
        greeted ends with 130 and "interrupted", not a misleading session
        error from the connection the shutdown closes.
        """
        options = parse(*PLAIN)
        reactor = MemoryReactorClock()
        out, err = io.StringIO(), io.StringIO()
        result = main(reactor, options, out=out, err=err)
        [(_, _, factory, _, _)] = reactor.tcpClients
        protocol = factory.buildProtocol(None)
        transport = TLSStringTransport()
        protocol.makeConnection(transport)
        for trigger, args, kwargs in reactor.triggers["before"]["shutdown"]:
            trigger(*args, **kwargs)
        protocol.connectionLost(Failure(ConnectionRefusedError("closed by shutdown")))
        self.assertEqual(self.successResultOf(result), 130)
        self.assertIn("netlab mail: interrupted", err.getvalue())
        self.assertNotIn("error at", err.getvalue())

    def test_connect_refused_exit_3(self):
        """
        A refused connection exits 3 naming the server and port.
        """
        code, _, err, _ = run(self, PLAIN + ("--server", "127.0.0.1", "--port", "2526"), refuse=True)
        self.assertEqual(code, 3)
        self.assertIn("127.0.0.1 port 2526", err)

    def test_bad_cafile_is_a_usage_error(self):
        """
        A --cafile without a certificate in it is reported, not a traceback.
        """
        path = self.mktemp()
        with open(path, "w") as f:
            f.write("not a certificate\n")
        code, _, err, _ = run(self, BASIC + ("--cafile", path, "--body", "x"))
        self.assertEqual(code, 2)
        self.assertIn("no PEM certificate", err)

    def test_quit_after_needs_no_message(self):
        """
        --quit-after tls checks a server without --from/--to: QUIT right
        after TLS, exit 0, and a line saying so.
        """
        code, out, err, written = run(
            self,
            ("--quit-after", "tls", "--insecure"),
            [b"220 mx\r\n250-mx\r\n250 STARTTLS\r\n220 go\r\n", b"250 mx\r\n221 bye\r\n"],
        )
        self.assertEqual(code, 0, err)
        self.assertTrue(written.endswith(b"EHLO [10.0.0.1]\r\nQUIT\r\n"), written)
        self.assertIn("quit there as asked", out)
        with self.assertRaises(usage.UsageError):
            parse("--quit-after", "data")

    def test_verbose_transcript(self):
        """
        -v prints the dialogue swaks-style on stdout.
        """
        code, out, _, _ = run(
            self, PLAIN + ("-v",), GREET + b"250 ok\r\n250 ok\r\n354 go\r\n250 ok\r\n221 bye\r\n"
        )
        self.assertEqual(code, 0)
        self.assertIn("<- 220 mx", out)
        self.assertIn("-> EHLO [10.0.0.1]", out)  # our address literal
        self.assertIn(" > Subject: netlab mail test", out)


class NamedServerTests(SynchronousTestCase):
    def setUp(self):
        self.home = hermetic_environment(self)
        self.certificate = os.path.join(self.home, "data", "netlab", "mailsink", "tls", "certificate.pem")
        self.config = os.path.join(self.home, "config", "netlab", "mail-servers.toml")

    def write_config(self, text):
        os.makedirs(os.path.dirname(self.config), exist_ok=True)
        with open(self.config, "w") as handle:
            handle.write(text)

    def test_lab_is_the_default_and_trusts_the_sink_certificate(self):
        """
        Without --server, and with --server lab, netlab mail talks to
        127.0.0.1:2525 (or --port) with STARTTLS required, trusting the
        certificate the lab's sink generated; before the sink made it,
        connecting stops at once (exit 3) saying to start the lab.
        """
        for argv in [BASIC, BASIC + ("--server", "lab")]:
            options = parse(*argv, "--body", "hi")
            self.assertEqual(
                (options["server"], options["port"], options["tls_mode"], options["cafile"]),
                ("127.0.0.1", 2525, TLSMode.REQUIRED, self.certificate),
            )
        reactor = MemoryReactorClock()
        out, err = io.StringIO(), io.StringIO()
        self.assertEqual(main(reactor, options, out=out, err=err), 3)
        self.assertEqual(reactor.tcpClients, [])
        self.assertIn(f"has not made its certificate {self.certificate} yet; start it (bash scripts/lab", err.getvalue())
        options = parse(*BASIC, "--port", "2600", "--body", "hi")
        self.assertEqual((options["server"], options["port"], options["cafile"]), ("127.0.0.1", 2600, self.certificate))
        options = parse(*BASIC, "--server", "127.0.0.1", "--body", "hi")
        self.assertEqual((options["server"], options["port"], options["cafile"]), ("127.0.0.1", None, None))
        options = parse(*BASIC, "--server", "lab", "--port", "2600", "--tls", "none", "--body", "hi")
        self.assertEqual((options["port"], options["tls_mode"], options["cafile"]), (2600, TLSMode.NONE, None))

    def test_builtin_providers(self):
        """
        gmail and office365 name the providers' submission servers with
        STARTTLS required and the system CAs.
        """
        for name, host in [("gmail", "smtp.gmail.com"), ("office365", "smtp.office365.com")]:
            options = parse(*BASIC, "--server", name, "--body", "hi")
            self.assertEqual(
                (options["server"], options["port"], options["tls_mode"], options["cafile"]),
                (host, 587, TLSMode.REQUIRED, None),
            )

    def test_users_server_with_password_file(self):
        """
        A server from the user's file brings its host, port, TLS mode and
        user, and the password from the file it names; --user elsewhere
        does not get that password.
        """
        secret = os.path.join(self.home, "school.pw")
        with open(secret, "w") as handle:
            handle.write("from the referenced file\n")
        self.write_config(
            '[servers.school]\nhost = "127.0.0.1"\nport = 2526\ntls = "opportunistic"\n'
            f'user = "alice"\npassword-file = "{secret}"\n'
        )
        options = parse(*BASIC, "--server", "school", "--body", "hi")
        self.assertEqual(
            (options["server"], options["port"], options["tls_mode"], options["user"]),
            ("127.0.0.1", 2526, TLSMode.OPPORTUNISTIC, "alice"),
        )
        self.assertEqual(resolve_password(options), "from the referenced file")
        other = parse(*BASIC, "--server", "school", "--user", "bob", "--body", "hi")
        with self.assertRaises(usage.UsageError):
            resolve_password(other, FakeStdin(tty=False), lambda text: self.fail("prompted"))

    def test_inline_password_refused(self):
        """
        A password written in the servers file is a usage error naming the
        file and the two allowed references.
        """
        self.write_config('[servers.school]\nhost = "mx.example.org"\nuser = "a"\npassword = "x"\n')
        with self.assertRaises(usage.UsageError) as caught:
            parse(*BASIC, "--server", "school", "--body", "hi")
        self.assertIn(self.config, str(caught.exception))
        self.assertIn("password-keyring", str(caught.exception))

    def test_list_servers(self):
        """
        --list-servers needs no other option and prints every name with
        its address, TLS mode, user and password source, the lab
        certificate's state and the file where a user's servers go.
        """
        self.write_config('[servers.school]\nhost = "mx.example.org"\nuser = "a"\npassword-keyring = "school-mail"\n')
        options = parse("--list-servers")
        out, err = io.StringIO(), io.StringIO()
        self.assertEqual(main(MemoryReactorClock(), options, out=out, err=err), 0)
        lines = out.getvalue().splitlines()
        self.assertEqual(lines[0].split(), ["NAME", "SERVER", "TLS", "USER", "PASSWORD", "FROM"])
        rows = {line.split()[0]: line.split() for line in lines[1:5]}
        self.assertEqual(rows["gmail"][:3], ["gmail", "smtp.gmail.com:587", "required"])
        self.assertEqual(rows["office365"][:3], ["office365", "smtp.office365.com:587", "required"])
        self.assertEqual(rows["lab"][:3], ["lab", "127.0.0.1:2525", "required"])
        self.assertEqual(rows["school"], ["school", "mx.example.org:587", "required", "a", "keyring", "school-mail", self.config])
        self.assertIn(f"lab certificate: {self.certificate} (not made yet: start bash scripts/lab)", lines)
        self.assertEqual(err.getvalue(), "")
