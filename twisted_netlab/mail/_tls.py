# -*- test-case-name: tests.mail.test_sink_tls -*-
"""
The mail sink's self-signed certificate, made with C{cryptography} (no
Twisted): generated on first start, reused while it is valid for a while
longer, so clients can trust it by pointing ``--cafile``/``cafile=`` at
the certificate file.  The time is passed in.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from typing import List, Optional, Tuple

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

#: Validity of a generated certificate.
VALIDITY = datetime.timedelta(days=825)
#: A generated certificate closer than this to expiry is made again.
RENEW_BEFORE = datetime.timedelta(days=7)
#: Names always in the subjectAltName, so loopback clients can verify.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")

_DNS_NAME = re.compile(r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$")


def _general_names(names: List[str]) -> List[x509.GeneralName]:
    result: List[x509.GeneralName] = []
    for name in names:
        try:
            result.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            if _DNS_NAME.match(name):
                result.append(x509.DNSName(name.lower()))
    return result


def subject_names(hostname: str) -> List[str]:
    """
    The names a sink certificate covers: the loopback names plus
    C{hostname} when it is a DNS name or an IP address.
    """
    names = list(LOOPBACK_NAMES)
    if hostname and hostname.lower() not in names and _general_names([hostname]):
        names.append(hostname.lower())
    return names


def generate(hostname: str, now: datetime.datetime) -> Tuple[bytes, bytes]:
    """
    A new self-signed certificate and its private key (ECDSA P-256), PEM.
    The certificate is its own trust anchor: an end-entity certificate
    (CA:FALSE) with subject and authority key identifiers, which OpenSSL
    also accepts under X509_V_FLAG_X509_STRICT.
    """
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "netlab-mailsink " + hostname[:40]),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "twisted-netlab test certificate"),
        ]
    )
    public = key.public_key()
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + VALIDITY)
        .add_extension(x509.SubjectAlternativeName(_general_names(subject_names(hostname))), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


def _write_atomically(path: str, data: bytes, mode: int) -> None:
    temporary = f"{path}.tmp{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(descriptor, data)
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    os.replace(temporary, path)


def usable(certificate_path: str, key_path: str, hostname: str, now: datetime.datetime) -> Optional[str]:
    """
    L{None} when the files hold a certificate valid for at least
    L{RENEW_BEFORE} that covers L{subject_names}, else why not.
    """
    try:
        with open(certificate_path, "rb") as handle:
            certificate = x509.load_pem_x509_certificate(handle.read())
        with open(key_path, "rb") as handle:
            serialization.load_pem_private_key(handle.read(), password=None)
    except FileNotFoundError:
        return "missing"
    except (OSError, ValueError) as error:
        return f"unreadable ({error})"
    if certificate.not_valid_after_utc - RENEW_BEFORE < now:
        return "expires soon"
    try:
        present = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return "no subjectAltName"
    wanted = _general_names(subject_names(hostname))
    if any(name not in present for name in wanted):
        return "does not cover " + ", ".join(subject_names(hostname))
    return None


def ensure_certificate(
    certificate_path: str, key_path: str, hostname: str, now: datetime.datetime
) -> Optional[str]:
    """
    Make a certificate at the given paths unless a usable one is there.

    @return: L{None} when the existing files were kept, else the reason a
        new certificate was made.
    """
    reason = usable(certificate_path, key_path, hostname, now)
    if reason is None:
        return None
    for path in (certificate_path, key_path):
        os.makedirs(os.path.dirname(os.path.abspath(path)), mode=0o700, exist_ok=True)
    certificate_pem, key_pem = generate(hostname, now)
    _write_atomically(key_path, key_pem, 0o600)
    _write_atomically(certificate_path, certificate_pem, 0o644)
    return reason
