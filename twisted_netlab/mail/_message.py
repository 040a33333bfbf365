# -*- test-case-name: tests.mail.test_message -*-
"""
Pure layer of the ``netlab mail`` client: what is sent.  Address and header
checks (no header injection), DATA framing (CRLF normalisation, RFC 5321
4.5.2 dot-stuffing) and MIME message building with the C{email} package.
Standard library only; time and randomness are passed in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Optional, Sequence, Tuple

from twisted_netlab.mail._replies import LocalProtocolError

CRLF = b"\r\n"

#: RFC 5321 4.5.3.1.6: 1000 octets per text line including CRLF.
MAX_DATA_LINE_LENGTH = 998

# ---------------------------------------------------------------- addresses


_FORBIDDEN_IN_ADDRESS = re.compile(r"[\x00-\x20\x7f<>()\[\]\\,;:\"]")


def check_header_text(name: str, value: str) -> str:
    """
    Refuse CR, LF and other control characters in text that goes into a
    header: they would let the text start new headers (header injection).
    """
    for character in value:
        if character in "\r\n" or (ord(character) < 32 and character != "\t") or ord(character) == 127:
            raise LocalProtocolError(
                f"{name} contains a control character ({character!r}): refused, it could inject headers"
            )
    return value


def check_address(address: str, what: str = "address") -> str:
    """
    Validate a bare envelope address (``local@domain``): one ``@``, both
    parts non-empty, no spaces, controls or specials that could break the
    command line or a header.  Non-ASCII is allowed (it needs SMTPUTF8).
    """
    check_header_text(what, address)
    if len(address.encode("utf-8")) > 254:
        raise LocalProtocolError(f"{what} {address!r} is longer than 254 octets")
    local, at, domain = address.rpartition("@")
    if not at or not local or not domain:
        raise LocalProtocolError(f"{what} {address!r} is not of the form local@domain")
    if _FORBIDDEN_IN_ADDRESS.search(domain) or _FORBIDDEN_IN_ADDRESS.search(local.strip('"')):
        raise LocalProtocolError(f"{what} {address!r} contains a character not allowed in an address")
    if domain.startswith(".") or domain.endswith(".") or ".." in domain:
        raise LocalProtocolError(f"{what} {address!r} has an invalid domain")
    return address


@dataclass(frozen=True)
class Mailbox:
    """
    An address with an optional display name, parsed from ``a@b`` or
    ``Name <a@b>``.
    """

    address: str
    display_name: str = ""

    @classmethod
    def parse(cls, text: str, what: str = "address") -> "Mailbox":
        check_header_text(what, text)
        text = text.strip()
        match = re.fullmatch(r"(.*?)\s*<([^<>]*)>", text)
        if match:
            name = match.group(1).strip()
            if len(name) >= 2 and name[0] == name[-1] == '"':
                name = name[1:-1]
            if '"' in name:
                raise LocalProtocolError(f"{what} {text!r}: the display name may not contain quotes")
            return cls(check_address(match.group(2).strip(), what), name)
        return cls(check_address(text, what))

    @property
    def ascii(self) -> bool:
        return self.address.isascii()

    def header(self) -> str:
        """
        The mailbox as header text; the display name is quoted when it has
        specials or non-ASCII (the email package then RFC 2047-encodes it).
        """
        if not self.display_name:
            return self.address
        name = self.display_name
        if name.isascii() and not re.search(r'[()<>\[\]:;@\\,.]', name):
            return f"{name} <{self.address}>"
        escaped = name.replace("\\", "\\\\")
        return f'"{escaped}" <{self.address}>'


# ---------------------------------------------------------------- DATA framing


_LINE_END = re.compile(rb"\r\n|\r|\n")


def normalize_crlf(data: bytes) -> bytes:
    """
    Every CR, LF or CRLF becomes CRLF, and the text ends with CRLF: no bare
    CR or LF ever leaves the client (the SMTP smuggling family, where
    servers disagree about what ends DATA, e.g. ``<LF>.<LF>``).
    """
    crlf_count = data.count(CRLF)
    if data.count(b"\r") == crlf_count and data.count(b"\n") == crlf_count:
        normalized = data  # already CRLF only: three C-speed counts, no copy
    else:
        normalized = _LINE_END.sub(CRLF, data)
    if not normalized.endswith(CRLF):
        normalized += CRLF
    return normalized


def frame_data(message: bytes) -> bytes:
    """
    The bytes to send after a 354: CRLF-normalised, every line that starts
    with ``.`` gets another one (RFC 5321 4.5.2), then ``.CRLF``.

    @raise LocalProtocolError: a line is longer than RFC 5321 allows.
    """
    return frame_normalized(normalize_crlf(message))


def frame_normalized(normalized: bytes) -> bytes:
    """
    L{frame_data} for text that L{normalize_crlf} already returned.
    """
    lines = normalized.split(CRLF)
    if max(map(len, lines)) > MAX_DATA_LINE_LENGTH:
        longest = max(lines, key=len)
        number = lines.index(longest) + 1
        raise LocalProtocolError(
            f"message line {number} is {len(longest)} bytes long; SMTP allows {MAX_DATA_LINE_LENGTH}"
        )
    stuffed = normalized.replace(CRLF + b".", CRLF + b"..")
    if stuffed.startswith(b"."):
        stuffed = b"." + stuffed
    return stuffed + b"." + CRLF


def frame_message(data: bytes) -> Tuple[int, bytes]:
    """
    L{frame_data} and the size after CRLF normalisation (RFC 1870 SIZE),
    in three C passes when C{data} already ends its lines with CRLF only:
    C{splitlines} breaks at CR, LF and CRLF alike, so it finds as many
    lines as there are CRLFs only when no CR or LF stands alone; the same
    list gives the longest line; one C{replace} doubles the leading dots.

    @raise LocalProtocolError: a line is longer than RFC 5321 allows.
    """
    lines = data.splitlines()
    ends_with_crlf = data[-2:] == CRLF
    if (
        len(lines) != data.count(CRLF) + (not ends_with_crlf)
        or (not ends_with_crlf and data[-1:] in (b"\r", b"\n"))
        or max(map(len, lines)) > MAX_DATA_LINE_LENGTH
    ):
        # A bare CR or LF, no line at all, or a line too long: the general
        # path normalises, or names the line.
        normalized = normalize_crlf(data)
        return len(normalized), frame_normalized(normalized)
    stuffed = data.replace(CRLF + b".", CRLF + b"..")
    if stuffed[:1] == b".":
        stuffed = b"." + stuffed
    if ends_with_crlf:
        return len(data), stuffed + b"." + CRLF
    return len(data) + 2, stuffed + CRLF + b"." + CRLF


def has_8bit(data: bytes) -> bool:
    return not data.isascii()


# ---------------------------------------------------------------- messages


@dataclass(frozen=True)
class Attachment:
    filename: str
    content: bytes
    content_type: Optional[str] = None

    def mime_type(self) -> Tuple[str, str]:
        """
        The MIME type given, else guessed from the file name by
        L{mimetypes}, else ``application/octet-stream``.
        """
        import mimetypes

        guessed = self.content_type or mimetypes.guess_type(self.filename, strict=False)[0]
        if not guessed or "/" not in guessed:
            guessed = "application/octet-stream"
        maintype, _, subtype = guessed.partition("/")
        return maintype, subtype


#: Headers build_message() writes itself; extra headers may not repeat them.
_BUILT_HEADERS = frozenset(
    ["from", "to", "cc", "bcc", "subject", "date", "message-id", "mime-version"]
)


def make_message_id(token: bytes, domain: str) -> str:
    """
    A Message-ID from caller-supplied randomness (the core has none).
    """
    check_header_text("Message-ID domain", domain)
    return f"<{token.hex()}@{domain}>"


def build_message(
    sender: Mailbox,
    to: Sequence[Mailbox],
    cc: Sequence[Mailbox] = (),
    subject: str = "",
    body: str = "",
    attachments: Sequence[Attachment] = (),
    now: float = 0.0,
    message_id: str = "",
    extra_headers: Sequence[Tuple[str, str]] = (),
) -> bytes:
    """
    A complete RFC 5322 message as bytes with CRLF line ends.

    Non-ASCII header text is RFC 2047-encoded, unless an address itself is
    not ASCII: then the message is an RFC 6532 (SMTPUTF8) one.  Bcc
    recipients never appear here.  The text body is quoted-printable when
    not ASCII, so the message is 7-bit unless an address forces UTF-8.
    """
    check_header_text("subject", subject)
    for name, value in extra_headers:
        check_header_text("header name", name)
        check_header_text(f"header {name}", value)
        if not re.fullmatch(r"[!-9;-~]+", name):
            raise LocalProtocolError(f"invalid header name {name!r}")
        if name.lower() in _BUILT_HEADERS or name.lower().startswith("content-"):
            raise LocalProtocolError(
                f"header {name} is set by the message builder (use the matching option instead)"
            )
    # Imported here, not at the top: the email package is about a tenth of
    # ``netlab mail``'s start-up, and only building a message needs it.
    from datetime import datetime, timezone
    from email import policy as email_policy
    from email.message import EmailMessage
    from email.utils import format_datetime

    utf8 = not all(m.ascii for m in [sender, *to, *cc])
    policy = email_policy.SMTPUTF8 if utf8 else email_policy.SMTP
    message = EmailMessage(policy=policy)
    message["From"] = sender.header()
    if to:
        message["To"] = ", ".join(m.header() for m in to)
    if cc:
        message["Cc"] = ", ".join(m.header() for m in cc)
    message["Subject"] = subject
    message["Date"] = format_datetime(datetime.fromtimestamp(now, timezone.utc))
    if message_id:
        message["Message-ID"] = message_id
    for name, value in extra_headers:
        try:
            message[name] = value
        except ValueError as error:  # e.g. a second header that may appear once
            raise LocalProtocolError(f"header {name}: {error}")
    normalized_body = body.replace("\r\n", "\n").replace("\r", "\n")
    if normalized_body and not normalized_body.endswith("\n"):
        normalized_body += "\n"
    if normalized_body.isascii():
        message.set_content(normalized_body, cte="7bit" if _short_lines(normalized_body) else "quoted-printable")
    else:
        message.set_content(normalized_body, charset="utf-8", cte="quoted-printable")
    for attachment in attachments:
        check_header_text("attachment file name", attachment.filename)
        maintype, subtype = attachment.mime_type()
        message.add_attachment(
            attachment.content, maintype=maintype, subtype=subtype, filename=attachment.filename
        )
    if message.is_multipart():
        # The email package would pick a boundary with the global random
        # module; a hash of the parts is deterministic and cannot occur in
        # them (finding content containing its own hash is a preimage attack).
        import hashlib

        digest = hashlib.sha256()
        for part in message.iter_parts():
            digest.update(part.as_bytes())
        message.set_boundary("=_netlab_" + digest.hexdigest()[:40])
    return normalize_crlf(message.as_bytes())


def _short_lines(text: str) -> bool:
    return all(len(line) <= 900 for line in text.split("\n"))


def needs_smtputf8(sender: str, recipients: Sequence[str]) -> bool:
    """
    RFC 6531: a non-ASCII envelope address needs SMTPUTF8.  (UTF-8 in the
    headers alone needs it too; the caller says so with L{Envelope.utf8}.)
    """
    return not (sender.isascii() and "".join(recipients).isascii())


