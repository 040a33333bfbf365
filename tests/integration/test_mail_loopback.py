"""
Integration: ``netlab mail`` and L{send_messages} against aiosmtpd, a real
SMTP server nobody here wrote, on 127.0.0.1: STARTTLS with a certificate for
127.0.0.1 from a throw-away CA (verified with --cafile), AUTH PLAIN/LOGIN
required, AUTH and MAIL refused before TLS.  Then against this project's
``twistd -n netlab-mailsink`` with its deterministic faults.  Stored
messages are parsed back with the C{email} package.
"""

from __future__ import annotations

import email
import email.policy
import hashlib
import os
import re
import signal
import subprocess
from typing import List, Tuple

from twisted.trial.unittest import TestCase

from tests.helpers import child_env, executable, start_process
from tests.mail.aiosmtpd_peer import AiosmtpdPeer
from tests.mail.certs import make_ca_and_server_certificate
from twisted_netlab.mail import Credentials, Envelope, TLSMode, client_tls_options, send_messages

PASSWORD = "correct horse battery"


class AiosmtpdTests(TestCase):
    def setUp(self):
        folder = self.mktemp()
        self.ca, certificate, key = make_ca_and_server_certificate(folder)
        self.peer = AiosmtpdPeer(certificate, key, users={"alice": PASSWORD}, enable_SMTPUTF8=True).start()
        self.addCleanup(self.peer.stop)
        self.password_file = os.path.join(folder, "password")
        with open(self.password_file, "w") as f:
            f.write(PASSWORD + "\n")

    def netlab_mail(self, *args, stdin=b"", env=None):
        command = [
            executable("netlab"), "mail", "--server", "127.0.0.1", "--port", str(self.peer.port),
            "--cafile", self.ca, "--timeout", "20s", *args,
        ]
        return subprocess.run(
            command, input=stdin, capture_output=True, timeout=60, env=child_env(env)
        )

    def test_message_with_attachments_round_trips(self):
        """
        STARTTLS + AUTH (password from the environment), To/Cc/Bcc, one
        recipient refused: exit 1, the others get a message whose headers,
        body and attachment bytes (sha256) come back unchanged; the
        transcript shows TLS and never the password.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        image = os.urandom(50_000)
        with open(os.path.join(folder, "photo.png"), "wb") as f:
            f.write(image)
        notes = "line one\n.line two starts with a dot\nüñí\n".encode("utf-8")
        with open(os.path.join(folder, "notes.txt"), "wb") as f:
            f.write(notes)
        result = self.netlab_mail(
            "-v", "--from", "Alice Ærø <alice@example.com>", "--to", "bob@example.com",
            "--to", "nobody@example.com", "--cc", "carol@example.com", "--bcc", "dave@example.com",
            "--subject", "Lab report ✓", "--user", "alice",
            "--attach", os.path.join(folder, "photo.png"), "--attach", os.path.join(folder, "notes.txt"),
            stdin="Hello Bob,\n.\nthe dot above is text.\n".encode("utf-8"),
            env={"NETLAB_MAIL_PASSWORD": PASSWORD},
        )
        out, err = result.stdout.decode(), result.stderr.decode()
        self.assertEqual(result.returncode, 1, out + err)
        self.assertIn("refused  nobody@example.com: 550 5.1.1", out)
        self.assertIn("=== TLS established: TLSv1.", out)
        self.assertIn("-> AUTH PLAIN ********", out)
        self.assertNotIn(PASSWORD, out + err)
        [stored] = self.peer.handler.envelopes
        self.assertTrue(stored["tls"])
        self.assertEqual(stored["login"], "alice")
        self.assertEqual(stored["rcpt_tos"], ["bob@example.com", "carol@example.com", "dave@example.com"])
        parsed = email.message_from_bytes(stored["content"], policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "Lab report ✓")
        self.assertEqual(parsed["From"].addresses[0].display_name, "Alice Ærø")
        self.assertEqual(parsed["To"], "bob@example.com, nobody@example.com")
        self.assertIsNone(parsed["Bcc"])
        self.assertNotIn(b"dave@", stored["content"])
        self.assertEqual(parsed.get_body().get_content(), "Hello Bob,\r\n.\r\nthe dot above is text.\r\n")
        parts = {p.get_filename(): p for p in parsed.iter_attachments()}
        self.assertEqual(parts["photo.png"].get_content_type(), "image/png")
        self.assertEqual(hashlib.sha256(parts["photo.png"].get_content()).hexdigest(), hashlib.sha256(image).hexdigest())
        self.assertEqual(parts["notes.txt"].get_content_type(), "text/plain")
        self.assertEqual(
            hashlib.sha256(parts["notes.txt"].get_payload(decode=True)).hexdigest(), hashlib.sha256(notes).hexdigest()
        )

    def test_raw_dots_and_bare_lf_round_trip_as_crlf(self):
        """
        A raw message with lines starting with "." and bare LF (and a bare
        CR) is stored exactly as its CRLF-normalised text: dot-stuffing
        undone by the server, no line able to end DATA early.
        """
        raw = b"Subject: dots\nFrom: alice@example.com\n\n.first\n..second\n.\nmiddle\rend\nMAIL FROM:<x@y>\n"
        path = self.mktemp()
        with open(path, "wb") as f:
            f.write(raw)
        result = self.netlab_mail(
            "--from", "alice@example.com", "--to", "bob@example.com", "--user", "alice",
            "--auth", "LOGIN", "--password-file", self.password_file, "--raw", path,
        )
        self.assertEqual(result.returncode, 0, result.stderr)
        [stored] = self.peer.handler.envelopes
        self.assertEqual(
            stored["content"],
            b"Subject: dots\r\nFrom: alice@example.com\r\n\r\n.first\r\n..second\r\n.\r\nmiddle\r\nend\r\nMAIL FROM:<x@y>\r\n",
        )

    def test_unverifiable_certificate_is_a_tls_failure(self):
        """
        Without --cafile the private CA is not trusted: exit 5 before AUTH,
        nothing delivered.
        """
        command = [
            executable("netlab"), "mail", "--server", "127.0.0.1", "--port", str(self.peer.port),
            "--from", "alice@example.com", "--to", "bob@example.com", "--body", "x",
            "--user", "alice", "--password-file", self.password_file, "--timeout", "20s",
        ]
        result = subprocess.run(command, capture_output=True, timeout=60, env=child_env(), stdin=subprocess.DEVNULL)
        self.assertEqual(result.returncode, 5, result.stderr)
        self.assertIn(b"TLS", result.stderr)
        self.assertEqual(self.peer.handler.envelopes, [])

    def test_plaintext_refused_by_strict_server(self):
        """
        --tls none against a server requiring STARTTLS: MAIL is refused
        with 530 and the envelope phase (exit 7) quotes it.
        """
        result = self.netlab_mail("--tls", "none", "--from", "alice@example.com", "--to", "bob@example.com", "--body", "x")
        self.assertEqual(result.returncode, 7, result.stderr)
        self.assertIn(b"530", result.stderr)

    def test_library_several_messages_one_connection(self):
        """
        send_messages() sends several messages over one connection, without
        RSET between them (each completed transaction already reset the
        server), including one with a UTF-8 address (SMTPUTF8).
        """
        lines = []
        messages = [
            Envelope("alice@example.com", (f"bob{n}@example.com",), f"Subject: {n}\r\n\r\nbody {n}\r\n".encode())
            for n in range(3)
        ] + [Envelope("alice@example.com", ("jürgen@example.de",), b"Subject: utf8\r\n\r\nx\r\n")]
        d = send_messages(
            __import__("twisted.internet.reactor", fromlist=["reactor"]),
            "127.0.0.1",
            messages,
            port=self.peer.port,
            tls=TLSMode.REQUIRED,
            credentials=Credentials("alice", PASSWORD),
            tls_options=client_tls_options("127.0.0.1", self.ca),
            timeout_seconds=20,
            transcript=lines.append,
        )

        def check(results):
            self.assertEqual([r.delivered for r in results], [True] * 4)
            self.assertEqual(lines.count("-> RSET"), 0)
            self.assertEqual(lines.count("-> DATA"), 4)
            self.assertEqual(sum(1 for line in lines if line.startswith("=== connected")), 1)
            stored = self.peer.handler.envelopes
            self.assertEqual([e["rcpt_tos"] for e in stored][-1], ["jürgen@example.de"])
            self.assertIn("SMTPUTF8", stored[-1]["mail_options"])
            self.assertEqual(stored[1]["content"], b"Subject: 1\r\n\r\nbody 1\r\n")

        return d.addCallback(check)


class ImplicitTLSTests(TestCase):
    def test_implicit_tls_with_auth(self):
        """
        --tls implicit talks TLS from the first byte (the port 465 way),
        verifies the certificate and authenticates with AUTH LOGIN.
        """
        folder = self.mktemp()
        ca, certificate, key = make_ca_and_server_certificate(folder)
        import warnings

        # aiosmtpd warns about AUTH without (its notion of) TLS; it is TLS.
        warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
        peer = AiosmtpdPeer(
            certificate, key, users={"alice": PASSWORD}, strict=False, implicit_tls=True,
            # aiosmtpd only counts STARTTLS as TLS; this socket is TLS throughout.
            auth_required=True, auth_require_tls=False,
        ).start()
        self.addCleanup(peer.stop)
        command = [
            executable("netlab"), "mail", "-v", "--tls", "implicit", "--server", "127.0.0.1",
            "--port", str(peer.port), "--cafile", ca, "--user", "alice", "--auth", "login",
            "--from", "alice@example.com", "--to", "bob@example.com", "--body", "over TLS",
        ]
        result = subprocess.run(
            command, capture_output=True, timeout=60, env=child_env({"NETLAB_MAIL_PASSWORD": PASSWORD}),
            stdin=subprocess.DEVNULL,
        )
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn(b"implicit TLS", result.stdout)
        self.assertIn(b"-> AUTH LOGIN", result.stdout)
        self.assertNotIn(b"STARTTLS", result.stdout)
        self.assertIn(b"=== TLS established: TLSv1.", result.stdout)
        # (aiosmtpd marks only STARTTLS sessions as TLS in its session data.)
        [stored] = peer.handler.envelopes
        self.assertIn(b"over TLS", stored["content"])


class NoSTARTTLSTests(TestCase):
    def test_required_tls_aborts_before_mail(self):
        """
        Against an aiosmtpd without STARTTLS, the default --tls required
        stops before AUTH or MAIL (exit 5) and nothing is delivered;
        --tls opportunistic then delivers in plaintext.
        """
        peer = AiosmtpdPeer(strict=False).start()
        self.addCleanup(peer.stop)
        base = [
            executable("netlab"), "mail", "-v", "--server", "127.0.0.1", "--port", str(peer.port),
            "--from", "alice@example.com", "--to", "bob@example.com", "--body", "x", "--timeout", "20s",
        ]
        refused = subprocess.run(base, capture_output=True, timeout=60, env=child_env(), stdin=subprocess.DEVNULL)
        self.assertEqual(refused.returncode, 5, refused.stderr)
        self.assertIn(b"does not offer STARTTLS", refused.stderr)
        self.assertNotIn(b"MAIL FROM", refused.stdout)
        self.assertEqual(peer.handler.envelopes, [])
        allowed = subprocess.run(
            base + ["--tls", "opportunistic"], capture_output=True, timeout=60, env=child_env(), stdin=subprocess.DEVNULL
        )
        self.assertEqual(allowed.returncode, 0, allowed.stderr)
        self.assertEqual(len(peer.handler.envelopes), 1)


class MailsinkTests(TestCase):
    """
    ``netlab mail`` against ``twistd -n netlab-mailsink`` (this project's
    test server): STARTTLS with the sink's generated certificate verified via
    --cafile, AUTH from its users file, and its deterministic faults.
    """

    def start_sink(self, *args: str) -> Tuple[int, str]:
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        users = os.path.join(folder, "users")
        with open(users, "w") as f:
            f.write(f"alice:{PASSWORD}\n")
        command = [
            executable("twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-mailsink",
            "--listen", "tcp:0:interface=127.0.0.1", "--data-dir", os.path.join(folder, "data"),
            "--users", users, "--hostname", "localhost", "--require-tls", "--require-auth", *args,
        ]
        sink = start_process(self, command, expect=0)
        self.addCleanup(sink.stop, signal.SIGTERM, 15)
        port = int(sink.read_until(r"netlab-mailsink listening on tcp \S+ (\d+)", timeout=30).group(1))
        self.password_file = os.path.join(folder, "password")
        with open(self.password_file, "w") as f:
            f.write(PASSWORD + "\n")
        return port, os.path.join(folder, "data")

    def netlab_mail(self, port: int, data_dir: str, *args: str) -> subprocess.CompletedProcess:
        command = [
            executable("netlab"), "mail", "-v", "--server", "127.0.0.1", "--port", str(port),
            "--cafile", os.path.join(data_dir, "tls", "certificate.pem"), "--user", "alice",
            "--password-file", self.password_file, "--from", "alice@example.com", "--timeout", "20s", *args,
        ]
        return subprocess.run(command, capture_output=True, timeout=60, env=child_env(), stdin=subprocess.DEVNULL)

    def stored(self, data_dir: str) -> List[bytes]:
        new = os.path.join(data_dir, "Maildir", "new")
        messages = []
        for name in sorted(os.listdir(new)):
            with open(os.path.join(new, name), "rb") as f:
                messages.append(f.read())
        return messages

    def test_starttls_auth_and_rcpt_fault(self):
        """
        With --fault RCPT=451:2 the second recipient is refused (exit 1, the
        451 quoted), PIPELINING carries MAIL/RCPT/DATA in one flight, and the
        Maildir holds the message, whose headers, body and attachment
        parse back unchanged.
        """
        port, data_dir = self.start_sink("--fault", "RCPT=451:2")
        attachment = os.path.join(os.path.abspath(self.mktemp()) + ".png")
        image = os.urandom(30_000)
        with open(attachment, "wb") as f:
            f.write(image)
        result = self.netlab_mail(
            port, data_dir, "--to", "bob@example.com", "--to", "carol@example.com",
            "--subject", "Grüße vom Labor", "--body", ".starts with a dot\nsecond line\n", "--attach", attachment,
        )
        out, err = result.stdout.decode(), result.stderr.decode()
        self.assertEqual(result.returncode, 1, out + err)
        self.assertIn("refused  carol@example.com: 451 4.3.0", out)
        self.assertIn("=== TLS established", out)
        self.assertNotIn(PASSWORD, out + err)
        transcript = out.splitlines()
        data_at = transcript.index("-> DATA")
        self.assertEqual(transcript[data_at - 3 : data_at], [
            "-> MAIL FROM:<alice@example.com> SIZE=" + transcript[data_at - 3].rpartition("=")[2],
            "-> RCPT TO:<bob@example.com>",
            "-> RCPT TO:<carol@example.com>",
        ])
        [stored] = self.stored(data_dir)
        parsed = email.message_from_bytes(stored, policy=email.policy.default)
        self.assertEqual(parsed["Subject"], "Grüße vom Labor")
        self.assertEqual(parsed.get_body().get_content().replace("\r\n", "\n"), ".starts with a dot\nsecond line\n")
        [part] = parsed.iter_attachments()
        self.assertEqual(hashlib.sha256(part.get_content()).digest(), hashlib.sha256(image).digest())

    def test_faults_map_to_exit_codes(self):
        """
        STARTTLS=454 is a TLS failure (exit 5), DATA=552 a message failure
        (exit 8), each quoting the sink's reply; nothing is stored.
        """
        for fault, code, quoted in [("STARTTLS=454", 5, "454"), ("DATA=552", 8, "552")]:
            port, data_dir = self.start_sink("--fault", fault)
            result = self.netlab_mail(port, data_dir, "--to", "bob@example.com", "--body", "x")
            self.assertEqual(result.returncode, code, result.stdout + result.stderr)
            self.assertIn(quoted.encode(), result.stderr)
            self.assertEqual(self.stored(data_dir), [])

    def test_smtputf8_used_or_clearly_refused(self):
        """
        A non-ASCII recipient goes out with SMTPUTF8 when the sink offers it
        (the stored message has the UTF-8 header); against a sink started
        with --no-smtputf8 the client stops before MAIL with exit 7 naming
        SMTPUTF8.
        """
        port, data_dir = self.start_sink()
        result = self.netlab_mail(port, data_dir, "--to", "jürgen@example.de", "--body", "Grüße")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn("SMTPUTF8".encode(), result.stdout)
        [stored] = self.stored(data_dir)
        self.assertIn("To: jürgen@example.de\r\n".encode("utf-8"), stored)
        port, data_dir = self.start_sink("--no-smtputf8")
        result = self.netlab_mail(port, data_dir, "--to", "jürgen@example.de", "--body", "x")
        self.assertEqual(result.returncode, 7, result.stdout + result.stderr)
        self.assertIn(b"does not offer SMTPUTF8", result.stderr)
        self.assertNotIn(b"MAIL FROM", result.stdout)
        self.assertEqual(self.stored(data_dir), [])

    def test_quit_after_auth_checks_without_sending(self):
        """
        --quit-after auth proves STARTTLS and AUTH work (exit 0) and sends no
        mail; a wrong password is still an AUTH failure (exit 6).
        """
        port, data_dir = self.start_sink()
        result = self.netlab_mail(port, data_dir, "--quit-after", "auth")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertIn(b"235 ", result.stdout)
        self.assertNotIn(b"MAIL FROM", result.stdout)
        self.assertEqual(self.stored(data_dir), [])
        with open(self.password_file, "w") as f:
            f.write("wrong\n")
        result = self.netlab_mail(port, data_dir, "--quit-after", "auth")
        self.assertEqual(result.returncode, 6, result.stdout + result.stderr)
        self.assertIn(b"535", result.stderr)


class LabPresetTests(TestCase):
    """
    The documented example as typed, against a sink started as the lab
    starts it (no --data-dir: the XDG data folder), on a free port instead
    of 2525 so that tests never collide with a running lab.
    """

    def test_example_works_as_typed_against_the_lab_sink(self):
        """
        With the sink's certificate in the XDG data folder, ``netlab mail
        --from a@example.com --to b@example.com --body hi`` (plus --port for
        the test's port) does STARTTLS verified against that certificate
        and delivers; ``--server lab`` means the same.
        """
        xdg = os.path.abspath(self.mktemp())
        os.makedirs(xdg)
        env = {"XDG_DATA_HOME": xdg, "XDG_CONFIG_HOME": os.path.join(xdg, "config")}
        command = [
            executable("twistd"), "-n", "--pidfile=", "--logfile=-", "netlab-mailsink",
            "--listen", "tcp:0:interface=127.0.0.1", "--hostname", "localhost",
        ]
        sink = start_process(self, command, expect=0, env=env)
        self.addCleanup(sink.stop, signal.SIGTERM, 15)
        port = int(sink.read_until(r"netlab-mailsink listening on tcp \S+ (\d+)", timeout=30).group(1))
        certificate = os.path.join(xdg, "netlab", "mailsink", "tls", "certificate.pem")
        sink.read_until(r"STARTTLS certificate " + re.escape(certificate), timeout=30)
        for preset in [(), ("--server", "lab")]:
            result = subprocess.run(
                [executable("netlab"), "mail", *preset, "--from", "a@example.com", "--to", "b@example.com",
                 "--body", "hi", "--port", str(port), "-v"],
                capture_output=True, timeout=60, env=child_env(env), stdin=subprocess.DEVNULL,
            )
            out, err = result.stdout.decode(), result.stderr.decode()
            self.assertEqual(result.returncode, 0, out + err)
            self.assertIn("=== TLS established", out)
            self.assertIn("sent to 1 of 1 recipients: 250 2.0.0 Ok: queued as", out)
        self.assertEqual(len(os.listdir(os.path.join(xdg, "netlab", "mailsink", "Maildir", "new"))), 2)
