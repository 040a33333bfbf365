"""
Tests for L{twisted_netlab.mail._tls}: the generated certificate covers the
loopback names, is reused while valid, and is made again when not.
"""

import datetime
import ipaddress
import os

from cryptography import x509
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._tls import VALIDITY, ensure_certificate, generate, subject_names, usable

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone.utc)


class CertificateTests(SynchronousTestCase):
    def test_subject_alt_names(self):
        """
        The certificate names localhost, 127.0.0.1, ::1 and the host name.
        """
        certificate_pem, key_pem = generate("mx.example.test", NOW)
        certificate = x509.load_pem_x509_certificate(certificate_pem)
        names = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        self.assertEqual(names.get_values_for_type(x509.DNSName), ["localhost", "mx.example.test"])
        self.assertEqual(
            names.get_values_for_type(x509.IPAddress), [ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1")]
        )
        self.assertFalse(certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
        self.assertEqual(certificate.not_valid_after_utc - NOW, VALIDITY)

    def test_names_skip_non_dns_hostname(self):
        """
        A host name that is not a DNS name is left out of the certificate.
        """
        self.assertEqual(subject_names("bad_name!"), ["localhost", "127.0.0.1", "::1"])

    def test_reuse_and_regenerate(self):
        """
        ensure_certificate makes files once (key 0600), keeps them while
        valid, and makes new ones near expiry or for a new host name.
        """
        folder = self.mktemp()
        certificate, key = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
        self.assertEqual(ensure_certificate(certificate, key, "mx.test", NOW), "missing")
        self.assertEqual(os.stat(key).st_mode & 0o777, 0o600)
        with open(certificate, "rb") as handle:
            first = handle.read()
        self.assertIsNone(ensure_certificate(certificate, key, "mx.test", NOW + datetime.timedelta(days=30)))
        with open(certificate, "rb") as handle:
            self.assertEqual(handle.read(), first)
        self.assertIn("does not cover", usable(certificate, key, "other.test", NOW))
        self.assertEqual(ensure_certificate(certificate, key, "mx.test", NOW + VALIDITY), "expires soon")
        with open(certificate, "rb") as handle:
            self.assertNotEqual(handle.read(), first)

    def test_garbage_is_replaced(self):
        """
        Unreadable files are replaced, not fatal.
        """
        folder = self.mktemp()
        os.makedirs(folder)
        certificate, key = os.path.join(folder, "c.pem"), os.path.join(folder, "k.pem")
        for path in (certificate, key):
            with open(path, "wb") as handle:
                handle.write(b"not pem")
        self.assertIn("unreadable", ensure_certificate(certificate, key, "mx.test", NOW))
        self.assertIsNone(usable(certificate, key, "mx.test", NOW))
