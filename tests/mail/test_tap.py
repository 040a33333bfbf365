"""
Tests for L{twisted_netlab.mail.tap}: option validation (clear
UsageErrors), defaults that work on a fresh machine, and the assembled
service.
"""

import os

from twisted.internet.testing import MemoryReactorClock
from twisted.python import usage
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail import tap
from twisted_netlab.mail._faults import Stage


class OptionsTests(SynchronousTestCase):
    def setUp(self):
        self.data = os.path.abspath(self.mktemp())

    def parse(self, *argv, data=True):
        options = tap.Options()
        options.parseOptions((["--data-dir", self.data] if data else []) + list(argv))
        return options

    def refused(self, *argv):
        error = self.assertRaises(usage.UsageError, self.parse, *argv)
        return str(error)

    def write(self, name, text):
        path = os.path.join(self.mktemp() + name)
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
        return path

    def test_defaults(self):
        """
        Without options: loopback port 2525, Maildir and certificate under
        the data folder (created), STARTTLS on, no AUTH, 10 MiB, 300 s.
        """
        options = self.parse("--hostname", "mx.test")
        self.assertEqual(options["listen"], ["tcp:2525:interface=127.0.0.1"])
        self.assertEqual(options["maildir"], os.path.join(self.data, "Maildir"))
        self.assertTrue(os.path.isdir(os.path.join(self.data, "Maildir", "new")))
        self.assertEqual(options["certificate"], os.path.join(self.data, "tls", "certificate.pem"))
        self.assertTrue(options["generate-certificate"])
        self.assertIsNone(options["status"])
        policy = options.policy()
        self.assertEqual((policy.max_size, policy.users, policy.tls_available), (10 * 1024 * 1024, {}, True))
        self.assertEqual(options["timeout"], 300.0)

    def test_default_data_dir(self):
        """
        The data folder follows XDG, then HOME, then the current folder.
        """
        self.assertEqual(tap.default_data_dir({"XDG_DATA_HOME": "/x", "HOME": "/h"}), "/x/netlab/mailsink")
        self.assertEqual(tap.default_data_dir({"XDG_DATA_HOME": "rel", "HOME": "/h"}), "/h/.local/share/netlab/mailsink")
        self.assertEqual(tap.default_data_dir({}), os.path.abspath("netlab-mailsink"))

    def test_default_hostname(self):
        """
        A machine name that is not a DNS name falls back to localhost
        instead of refusing to start.
        """
        self.assertEqual(tap.default_hostname("build-42.example"), "build-42.example")
        self.assertEqual(tap.default_hostname("my_laptop"), "localhost")
        self.assertEqual(tap.default_hostname(""), "localhost")
        self.assertTrue(tap._HOSTNAME.match(self.parse()["hostname"]))

    def test_values(self):
        """
        Repeated --listen and --fault, sizes with suffixes, durations.
        """
        users = self.write("users", "# comment\nalice:pa:ss word\n\nbob:x\n")
        options = self.parse(
            "--listen", "tcp:0", "--listen", "tcp6:0", "--fault", "RCPT=451", "--fault", "data=552:3",
            "--max-size", "512K", "--timeout", "2m", "--users", users, "--require-auth", "--hostname", "mx.test",
        )
        self.assertEqual(options["listen"], ["tcp:0", "tcp6:0"])
        self.assertEqual([(r.stage, r.code, r.occurrence) for r in options["faults"].rules], [(Stage.RCPT, 451, None), (Stage.DATA, 552, 3)])
        self.assertEqual(options["max-size"], 512 * 1024)
        self.assertEqual(options["timeout"], 120.0)
        self.assertEqual(options.policy().users, {"alice": "pa:ss word", "bob": "x"})

    def test_hardening_transcript_and_storage_options(self):
        """
        The per-address cap, the DATA rate, the transcript folder (made,
        mode 0700) and the benchmark-only storage modes are read and
        checked; defaults follow Postfix (50 per address, 500 octets/s).
        """
        defaults = self.parse()
        self.assertEqual(
            (defaults["max-connections-per-address"], defaults["min-data-rate"], defaults["transcript"], defaults["storage"]),
            (50, 500, None, "durable"),
        )
        folder = os.path.join(os.path.abspath(self.mktemp()), "transcripts")
        options = self.parse(
            "--max-connections-per-address", "3", "--min-data-rate", "1000", "--transcript", folder, "--storage", "discard"
        )
        self.assertEqual((options["max-connections-per-address"], options["min-data-rate"]), (3, 1000))
        self.assertEqual((options["transcript"], options["storage"]), (folder, "discard"))
        self.assertEqual(os.stat(folder).st_mode & 0o777, 0o700)
        self.assertIn("durable, no-fsync or discard", self.refused("--storage", "memory"))
        self.assertIn("from 1 to", self.refused("--max-connections-per-address", "0"))
        self.assertIn("from 1 to", self.refused("--min-data-rate", "0"))

    def test_bad_faults(self):
        """
        Bad --fault values name the problem.
        """
        self.assertIn("STAGE=CODE", self.refused("--fault", "RCPT"))
        self.assertIn("not one of", self.refused("--fault", "BDAT=451"))
        self.assertIn("400 to 599", self.refused("--fault", "RCPT=250"))
        self.assertIn("overlaps", self.refused("--fault", "RCPT=451", "--fault", "RCPT=550:2"))

    def test_bad_users_files(self):
        """
        Missing, malformed, duplicate and empty users files are refused
        with the line number.
        """
        self.assertIn("No such file", self.refused("--users", "/nonexistent/users"))
        self.assertIn("line 2: expected user:password", self.refused("--users", self.write("u", "a:b\nnocolon\n")))
        self.assertIn("appears twice", self.refused("--users", self.write("u", "a:b\na:c\n")))
        self.assertIn("no user:password", self.refused("--users", self.write("u", "# nothing\n")))
        self.assertIn("spaces", self.refused("--users", self.write("u", "a b:c\n")))

    def test_conflicts(self):
        """
        Options that cannot work together are refused.
        """
        users = self.write("u", "a:b\n")
        self.assertIn("go together", self.refused("--certificate", users))
        self.assertIn("needs --users", self.refused("--require-auth"))
        self.assertIn("drop --no-tls", self.refused("--no-tls", "--require-tls"))
        self.assertIn("--allow-plaintext-auth", self.refused("--no-tls", "--users", users))
        self.parse("--no-tls", "--users", users, "--allow-plaintext-auth")

    def test_bad_numbers(self):
        """
        Sizes, counts, durations and host names are validated.
        """
        self.assertIn("--max-size", self.refused("--max-size", "lots"))
        self.assertIn("1K to 2G", self.refused("--max-size", "10"))
        self.assertIn("--max-recipients", self.refused("--max-recipients", "0"))
        self.assertIn("duration", self.refused("--timeout", "soon"))
        self.assertIn("more than 0", self.refused("--timeout", "0"))
        self.assertIn("--hostname", self.refused("--hostname", "bad name"))

    def test_certificate_files_checked(self):
        """
        A given certificate must exist and load with its key.
        """
        junk = self.write("junk", "not a certificate")
        self.assertIn("is not a file", self.refused("--certificate", "/nonexistent.pem", "--private-key", junk))
        self.assertIn("cannot use", self.refused("--certificate", junk, "--private-key", junk))

    def test_unwritable_maildir(self):
        """
        A Maildir that cannot be created is a usage error, not a traceback.
        """
        blocker = self.write("file", "x")
        self.assertIn("cannot create the Maildir", self.refused("--maildir", os.path.join(blocker, "Maildir")))


class MakeServiceTests(SynchronousTestCase):
    def test_service_generates_certificate_and_listens(self):
        """
        makeService makes the certificate, then listens for SMTP and the
        status page; a second start reuses the certificate.
        """
        data = os.path.abspath(self.mktemp())
        options = tap.Options()
        options.parseOptions(["--data-dir", data, "--listen", "tcp:0:interface=127.0.0.1", "--status", "tcp:0:interface=127.0.0.1", "--hostname", "mx.test"])
        reactor = MemoryReactorClock()
        service = tap.makeService(options, reactor=reactor)
        certificate = os.path.join(data, "tls", "certificate.pem")
        with open(certificate, "rb") as handle:
            first = handle.read()
        service.startService()
        self.addCleanup(service.stopService)
        self.assertEqual([port[0] for port in reactor.tcpServers], [0, 0])
        self.assertEqual([s.service_name for s in service], ["netlab-mailsink", "netlab-mailsink-status"])
        tap.makeService(options, reactor=reactor)
        with open(certificate, "rb") as handle:
            self.assertEqual(handle.read(), first)

    def test_orphaned_tmp_files_removed_at_start_and_logged(self):
        """
        Files left in tmp/ by a crash mid-DATA are removed at start however
        young they are (no delivery of the new process owns them), and
        each is named in the log; new/ is untouched.
        """
        from twisted.logger import globalLogPublisher

        data = os.path.abspath(self.mktemp())
        options = tap.Options()
        options.parseOptions(["--data-dir", data, "--listen", "tcp:0:interface=127.0.0.1", "--hostname", "mx.test", "--no-tls"])
        maildir = os.path.join(data, "Maildir")
        with open(os.path.join(maildir, "tmp", "1700000000.M1P9Q1Rabc.mx.test"), "wb") as handle:
            handle.write(b"x" * 6000)
        with open(os.path.join(maildir, "new", "kept"), "wb") as handle:
            handle.write(b"y")
        logged = []
        globalLogPublisher.addObserver(logged.append)
        self.addCleanup(globalLogPublisher.removeObserver, logged.append)
        tap.makeService(options, reactor=MemoryReactorClock())
        self.assertEqual(os.listdir(os.path.join(maildir, "tmp")), [])
        self.assertEqual(os.listdir(os.path.join(maildir, "new")), ["kept"])
        removed = [e for e in logged if e.get("name") == "1700000000.M1P9Q1Rabc.mx.test"]
        self.assertEqual([e["size"] for e in removed], [6000])

    def test_netlab_all_includes_sink(self):
        """
        netlab-all runs the sink on loopback port 2525 with its status page
        on 8025, needing no files.
        """
        from twisted_netlab.tap import family_argv

        argv = family_argv("twisted_netlab.mail.tap")
        self.assertEqual(argv, ["--listen", "tcp:2525:interface=127.0.0.1", "--status", "tcp:8025:interface=127.0.0.1"])
