"""
Every sample session of the manual (docs/*.rst blocks marked with a
``.. session:`` comment; the convention is in tests/docsession.py) is run
against the real services on loopback, so a page cannot show output the
programs no longer print.  One test per session (a block and the blocks
that continue it with ``same``), named after its page and line.
"""

import datetime
import os

from twisted.trial.unittest import SynchronousTestCase, TestCase

from tests import docsession
from tests.helpers import REPO

DOCS = os.path.join(REPO, "docs")


def _write(path: str, data, mode: str = "w") -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, mode) as handle:
        handle.write(data)


def www(folder: str) -> None:
    """
    A small web root: www/index.html, www/hello.txt, www/numbers.txt (the
    numbers 1 to 20000, one a line), www/notes/a <b>.txt, www/big.bin (10 MB).
    """
    root = os.path.join(folder, "www")
    _write(os.path.join(root, "index.html"), "<!DOCTYPE html>\n<title>lab</title>\n<p>It works.</p>\n")
    _write(os.path.join(root, "hello.txt"), "hello\n")
    _write(os.path.join(root, "numbers.txt"), "".join(f"{n}\n" for n in range(1, 20001)))
    _write(os.path.join(root, "notes", "a <b>.txt"), "b\n")
    _write(os.path.join(root, "big.bin"), b"\0" * 10_000_000, "wb")


def tls(folder: str) -> None:
    """
    key.pem and cert.pem: a self-signed certificate for the name localhost
    (no IP address), valid for a day.
    """
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    _write(os.path.join(folder, "key.pem"), key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()), "wb")
    _write(os.path.join(folder, "cert.pem"), cert.public_bytes(serialization.Encoding.PEM), "wb")


def mail(folder: str) -> None:
    """
    notes.txt (a body whose second line is a lone dot), style.css (an
    attachment) and users (alice:s3cret, for AUTH).
    """
    _write(os.path.join(folder, "notes.txt"), "Dear class,\n.\nA line with only a dot, above, is text.\n")
    _write(os.path.join(folder, "style.css"), "body { font-family: sans-serif; }\n")
    _write(os.path.join(folder, "users"), "alice:s3cret\n")


def hello(folder: str) -> None:
    """
    hello.txt in the session folder itself (a lab server serves its own folder).
    """
    _write(os.path.join(folder, "hello.txt"), "hello\n")


FIXTURES = {"www": www, "tls": tls, "mail": mail, "hello": hello}


def sessions():
    """
    (page, line, blocks) for every session of the manual.
    """
    found = []
    for name in sorted(os.listdir(DOCS)):
        if not name.endswith(".rst"):
            continue
        for block in docsession.blocks(os.path.join(DOCS, name)):
            if "same" in block.options and found and found[-1][0] == name:
                found[-1][2].append(block)
            else:
                found.append((name, block.line, [block]))
    return found


class SessionTests(TestCase):
    """
    One generated test per session of the manual.
    """

    timeout = 240

    def run_session(self, blocks):
        folder = os.path.abspath(self.mktemp())
        os.makedirs(folder)
        session = docsession.Session(self, folder, FIXTURES)
        for block in blocks:
            session.run_block(block)


def _add(page: str, number: int, line: int, blocks) -> None:
    def test(self):
        self.run_session(blocks)

    test.__doc__ = f"The session at docs/{page} line {line} prints what the page shows."
    name = "test_" + page[:-4].replace("-", "_") + f"_{number}"
    setattr(SessionTests, name, test)


_numbers: dict = {}
for _page, _line, _blocks in sessions():
    _numbers[_page] = _numbers.get(_page, 0) + 1
    _add(_page, _numbers[_page], _line, _blocks)


class ConventionTests(SynchronousTestCase):
    """
    The matching rules of tests/docsession.py.
    """

    def test_every_dollar_block_is_a_session(self):
        """
        No literal block of the manual shows a C{$ } command line without a
        C{.. session:} mark, so every sample session is executed.
        """
        marked = {(page, block.line) for page, _, blocks in sessions() for block in blocks}
        for name in sorted(os.listdir(DOCS)):
            if not name.endswith(".rst"):
                continue
            with open(os.path.join(DOCS, name), encoding="utf-8") as handle:
                lines = handle.read().split("\n")
            for number, line in enumerate(lines, 1):
                if line.lstrip().startswith("$ ") and line.startswith(" "):
                    start = number
                    while start > 1 and (lines[start - 2].startswith(" ") or not lines[start - 2].strip()):
                        start -= 1
                    while not lines[start - 1].strip():
                        start += 1
                    self.assertIn((name, start), marked, f"docs/{name}:{number}: a $ session without '.. session:'")

    def test_ellipsis_and_masks(self):
        """
        A line C{...} matches any number of lines, C{...} in a line any text;
        dates, durations and ETags are masked; other differences fail.
        """
        match = docsession.match_lines
        self.assertTrue(match(["a", "...", "d"], ["a", "b", "c", "d"]))
        self.assertTrue(match(["a", "...", "b"], ["a", "b"]))
        self.assertTrue(match(["x ... z"], ["x yyy z"]))
        self.assertTrue(match(["Date: Wed, 25 Nov 2026 03:59:17 GMT"], ["Date: Mon, 30 Nov 2026 05:00:01 GMT"]))
        self.assertTrue(match(['ETag: "20e925-1a95e-18eb2ceab341ff17"'], ['ETag: "1-2-3"']))
        self.assertTrue(match(["seq=1 time=0.667 ms"], ["seq=1 time=12.5 ms"]))
        self.assertFalse(match(["seq=1 time=0.667 ms"], ["seq=2 time=0.667 ms"]))
        self.assertFalse(match(["HTTP/1.1 200 OK"], ["HTTP/1.1 404 Not Found"]))
        self.assertFalse(match(["a"], ["a", "b"]))
        self.assertFalse(match(["a", "b"], ["a"]))
