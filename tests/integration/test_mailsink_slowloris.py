"""
Integration: SMTP slowloris against the real ``twistd -n netlab-mailsink``
on loopback (issue 14 item 7).  Thirty connections from 127.0.0.2 dribble
one byte every half second; a real client from 127.0.0.1 is still served,
and every dribbler is closed with 421 once its command-line deadline passes.
Bounded: 30 sockets, about 5 seconds.
"""

import os
import smtplib
import socket
import time

from twisted.trial.unittest import TestCase

from tests.helpers import start_server

ATTACKERS = 30
TIMEOUT_SECONDS = 2.0


class SlowlorisTests(TestCase):
    def setUp(self):
        self.data = os.path.abspath(self.mktemp())
        os.makedirs(self.data)
        self.server = start_server(
            self,
            [
                "netlab-mailsink",
                "--listen", "tcp:0:interface=127.0.0.1",
                "--data-dir", self.data,
                "--no-tls",
                "--hostname", "localhost",
                "--timeout", f"{TIMEOUT_SECONDS}s",
                "--max-connections", "20",
                "--max-connections-per-address", "10",
            ],
            expect=0,
        )
        self.port = int(self.server.read_until(r"netlab-mailsink listening on tcp 127.0.0.1 (\d+)", timeout=20).group(1))

    def attacker(self):
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=10, source_address=("127.0.0.2", 0))
        self.addCleanup(connection.close)
        greeting = connection.recv(200)
        return connection, greeting

    def test_dribbling_connections_neither_fill_the_server_nor_stay(self):
        """
        One address gets at most its 10 slots (the rest hear 421 at once),
        a real client from another address sends a message meanwhile, and
        each dribbling connection is answered 421 and closed within the
        command-line deadline although it never stopped sending bytes.
        """
        admitted, refused = [], 0
        for _ in range(ATTACKERS):
            connection, greeting = self.attacker()
            if greeting.startswith(b"220 "):
                admitted.append(connection)
            else:
                self.assertTrue(greeting.startswith(b"421 4.7.0 Too many connections from your address"), greeting)
                refused += 1
        self.assertEqual((len(admitted), refused), (10, 20))
        started = time.monotonic()
        for connection in admitted:
            connection.sendall(b"N")
        with smtplib.SMTP("127.0.0.1", self.port, timeout=10) as client:
            client.ehlo("client.test")
            client.sendmail("a@example.test", ["b@example.test"], b"Subject: served\r\n\r\nstill served\r\n")
        closed = []
        deadline = started + TIMEOUT_SECONDS + 3.0
        while admitted and time.monotonic() < deadline:
            time.sleep(0.5)  # the attacker's pace, not a wait for the server
            for connection in list(admitted):
                try:
                    connection.sendall(b"O")
                    connection.setblocking(False)
                    try:
                        data = connection.recv(200)
                    except BlockingIOError:
                        continue
                    finally:
                        connection.setblocking(True)
                except OSError:
                    data = b""
                closed.append(data)
                admitted.remove(connection)
        self.assertEqual(admitted, [], "dribbling connections still open after the deadline")
        self.assertEqual(len(closed), 10)
        self.assertTrue(all(d.startswith(b"421 4.4.2") or d == b"" for d in closed), closed)
        self.assertTrue(any(d.startswith(b"421 4.4.2") for d in closed), closed)
        self.server.read_until(r"command line deadline", timeout=10)
        self.assertEqual(len(os.listdir(os.path.join(self.data, "Maildir", "new"))), 1)
