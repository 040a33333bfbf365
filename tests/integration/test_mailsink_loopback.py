"""
Integration: the real ``twistd -n netlab-mailsink`` on 127.0.0.1 port 0,
driven by Python's smtplib (STARTTLS verified against the generated
certificate, AUTH, sendmail) and by raw sockets; the stored Maildir file is
parsed back with the email package and the status page read as JSON.
"""

import email
import email.policy
import hashlib
import json
import os
import smtplib
import socket
import ssl
import urllib.request
from email.message import EmailMessage

from twisted.trial.unittest import TestCase

from tests.helpers import start_server


class MailSinkLoopbackTests(TestCase):
    def setUp(self):
        self.data = os.path.abspath(self.mktemp())
        os.makedirs(self.data)
        users = os.path.join(self.data, "users")
        with open(users, "w") as handle:
            handle.write("alice:correct horse:battery\n")
        self.server = start_server(
            self,
            [
                "netlab-mailsink",
                "--listen", "tcp:0:interface=127.0.0.1",
                "--status", "tcp:0:interface=127.0.0.1",
                "--data-dir", self.data,
                "--users", users,
                "--require-tls",
                "--fault", "DATA=552:2",
                "--max-size", "200K",
                "--hostname", "localhost",
            ],
            expect=0,
        )
        self.smtp_port = int(self.server.read_until(r"netlab-mailsink listening on tcp 127.0.0.1 (\d+)", timeout=20).group(1))
        self.status_port = int(
            self.server.read_until(r"netlab-mailsink-status listening on tcp 127.0.0.1 (\d+)", timeout=20).group(1)
        )
        self.certificate = os.path.join(self.data, "tls", "certificate.pem")

    def tls_context(self):
        return ssl.create_default_context(cafile=self.certificate)

    def status(self):
        with urllib.request.urlopen(f"http://127.0.0.1:{self.status_port}/messages.json", timeout=10) as response:
            return json.load(response)

    def test_smtplib_starttls_login_sendmail(self):
        """
        smtplib verifies the generated certificate for 127.0.0.1, logs in,
        sends a message with an attachment; the Maildir file parses back
        to the same headers, body and attachment bytes, and the status page
        lists it under the queue id the server answered and serves the
        file byte for byte.  The second
        message meets --fault DATA=552:2; the third is stored again.
        """
        attachment = os.urandom(50_000)
        message = EmailMessage()
        message["From"] = "sender@example.test"
        message["To"] = "rcpt@example.test"
        message["Subject"] = "Gr\u00fc\u00dfe from the sink test"
        message.set_content("first line\n.line starting with a dot\n")
        message.add_attachment(attachment, maintype="image", subtype="png", filename="pixel.png")

        with smtplib.SMTP("127.0.0.1", self.smtp_port, timeout=20) as client:
            client.ehlo("client.test")
            self.assertFalse(client.has_extn("auth"))
            self.assertEqual(client.starttls(context=self.tls_context())[0], 220)
            client.ehlo("client.test")
            self.assertEqual(client.esmtp_features["size"], str(200 * 1024))
            self.assertEqual(client.login("alice", "correct horse:battery")[0], 235)
            client.send_message(message, to_addrs=["rcpt@example.test", "other@example.test"])
            code, text = client.noop()
            self.assertEqual(code, 250)
            with self.assertRaises(smtplib.SMTPDataError) as refused:
                client.sendmail("sender@example.test", ["rcpt@example.test"], b"Subject: second\r\n\r\nx\r\n")
            self.assertEqual(refused.exception.smtp_code, 552)
            client.sendmail("sender@example.test", ["rcpt@example.test"], b"Subject: third\r\n\r\nx\r\n")

        found = self.server.read_until(r"stored message (\S+) from <sender@example.test> to <rcpt@example.test>, <other@example.test>", timeout=20)
        queue_id = found.group(1)
        path = os.path.join(self.data, "Maildir", "new", queue_id)
        with open(path, "rb") as handle:
            stored = email.message_from_binary_file(handle, policy=email.policy.default)
        self.assertEqual(stored["Subject"], "Gr\u00fc\u00dfe from the sink test")
        self.assertEqual(stored["Return-Path"], "<sender@example.test>")
        self.assertIn("with ESMTPSA", stored["Received"])
        text_part, image_part = list(stored.iter_parts())
        self.assertEqual(text_part.get_content().replace("\r\n", "\n"), "first line\n.line starting with a dot\n")
        self.assertEqual(hashlib.sha256(image_part.get_content()).hexdigest(), hashlib.sha256(attachment).hexdigest())

        document = self.status()
        self.assertEqual(document["count"], 2)
        listed = {m["id"]: m for m in document["messages"]}
        self.assertEqual(listed[queue_id]["envelope_to"], ["rcpt@example.test", "other@example.test"])
        self.assertEqual(listed[queue_id]["headers"]["Subject"], "Gr\u00fc\u00dfe from the sink test")
        self.assertEqual(os.listdir(os.path.join(self.data, "Maildir", "tmp")), [])
        url = f"http://127.0.0.1:{self.status_port}" + listed[queue_id]["url"]
        # The message's page shows its MIME parts; /raw is the stored file, byte for byte.
        with urllib.request.urlopen(url + "/raw", timeout=10) as response, open(path, "rb") as handle:
            self.assertEqual(response.read(), handle.read())
        with urllib.request.urlopen(url, timeout=10) as response:
            self.assertIn("text/html", response.headers["Content-Type"])

    def test_raw_socket_starttls_flush_and_smuggling(self):
        """
        Over a real socket and real TLS: a command pipelined after STARTTLS
        is never executed, and an <LF>.<LF> smuggling attempt is refused
        without storing anything.
        """
        with socket.create_connection(("127.0.0.1", self.smtp_port), timeout=20) as raw:
            reader = raw.makefile("rb")
            self.assertTrue(reader.readline().startswith(b"220 "))
            raw.sendall(b"EHLO client.test\r\n")
            while not reader.readline().startswith(b"250 "):
                pass
            raw.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.test>\r\n")
            self.assertTrue(reader.readline().startswith(b"220 "))
            tls = self.tls_context().wrap_socket(raw, server_hostname="127.0.0.1")
            tls_reader = tls.makefile("rb")
            tls.sendall(b"RCPT TO:<a@example.test>\r\n")
            # Not 250: the injected MAIL (and the EHLO before TLS) are gone.
            self.assertTrue(tls_reader.readline().startswith(b"503 "))
            tls.sendall(b"EHLO client.test\r\n")
            while not tls_reader.readline().startswith(b"250 "):
                pass
            tls.sendall(b"MAIL FROM:<a@example.test>\r\nRCPT TO:<b@example.test>\r\nDATA\r\n")
            replies = [tls_reader.readline()[:3] for _ in range(3)]
            self.assertEqual(replies, [b"250", b"250", b"354"])
            tls.sendall(
                b"Subject: one\r\n\r\nbody\n.\nMAIL FROM:<admin@example.test>\r\nRCPT TO:<v@example.test>\r\n"
                b"DATA\r\nSubject: smuggled\r\n\r\nx\r\n.\r\nQUIT\r\n"
            )
            self.assertTrue(tls_reader.readline().startswith(b"554 5.5.2 Bare CR or LF"))
            self.assertTrue(tls_reader.readline().startswith(b"221 "))
        self.server.read_until(r"discarded \d+ plaintext bytes sent after STARTTLS", timeout=20)
        self.assertEqual(self.status()["count"], 0)
