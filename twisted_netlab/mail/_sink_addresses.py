# -*- test-case-name: tests.mail.test_sink_core -*-
"""
Pure layer of the mail sink: the syntax of reverse- and forward-paths and
ESMTP parameters (RFC 5321 4.1.2, RFC 6531 3.3), checked before anything a
client names reaches a reply or a stored header.  Standard library only.
"""

from __future__ import annotations

import re
from typing import Dict, Optional, Tuple

# -- address syntax (RFC 5321 4.1.2, RFC 6531 3.3) ---------------------------

_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-]"
_UTEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~\-\u0080-\U0010ffff]"
_QUOTED = r'"(?:[\x20\x21\x23-\x5b\x5d-\x7e\u0080-\U0010ffff]|\\[\x20-\x7e])*"'
_LABEL = r"[A-Za-z0-9\u0080-\U0010ffff](?:[A-Za-z0-9\-\u0080-\U0010ffff]*[A-Za-z0-9\u0080-\U0010ffff])?"
_DOMAIN = rf"(?:{_LABEL}(?:\.{_LABEL})*|\[[\x21-\x5a\x5e-\x7e]+\])"
_MAILBOX = re.compile(
    rf"^(?P<local>{_UTEXT}+(?:\.{_UTEXT}+)*|{_QUOTED})@(?P<domain>{_DOMAIN})$"
)
_KEYWORD = re.compile(r"^[A-Za-z0-9][A-Za-z0-9\-]*$")
# Refuse everything but printable characters in a command (after UTF-8
# decoding): controls, DEL and the like have no place in SMTP.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class AddressError(ValueError):
    """
    A reverse- or forward-path that is not a mailbox; str() is the reply text.
    """


def split_path(text: str) -> Tuple[str, str]:
    """
    Split ``<path> params`` into the path (without brackets) and the rest.
    A ``>`` inside a quoted local part does not close the path.

    @raise AddressError: when there is no bracketed path.
    """
    if not text.startswith("<"):
        raise AddressError("the address must be in angle brackets, e.g. <user@example.org>")
    # Without a quote nothing is quoted or escaped: the first ">" closes
    # the path, as the scan below would find (tests hold the two together).
    index = text.find(">", 1) if '"' not in text else _closing_bracket(text)
    if index < 0:
        raise AddressError("the address has no closing '>'")
    rest = text[index + 1 :]
    if rest and not rest.startswith(" "):
        raise AddressError("parameters must be separated from the address by a space")
    return text[1:index], rest.strip()


def _closing_bracket(text: str) -> int:
    """
    The index of the ``>`` that closes the path opened at C{text[0]}, past
    any quoted local part, or -1.
    """
    quoted = escaped = False
    for index in range(1, len(text)):
        char = text[index]
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == ">" and not quoted:
            return index
    return -1


def parse_mailbox(path: str, allow_utf8: bool) -> str:
    """
    Validate a path as a mailbox and return it without a source route
    (RFC 5321 4.1.2 and 3.3: ``@relay:`` prefixes are accepted and ignored).

    @raise AddressError: with the reason.
    """
    if path.startswith("@"):
        route_end = path.find(":")
        if route_end < 0:
            raise AddressError("malformed source route")
        path = path[route_end + 1 :]
    match = _MAILBOX.match(path)
    if match is None:
        raise AddressError("not a valid mailbox (local-part@domain)")
    if len(match.group("local").encode("utf-8")) > 64:
        raise AddressError("local part longer than 64 octets (RFC 5321 4.5.3.1.1)")
    if len(match.group("domain").encode("utf-8")) > 255:
        raise AddressError("domain longer than 255 octets (RFC 5321 4.5.3.1.2)")
    if len(path.encode("utf-8")) > 254:
        raise AddressError("path longer than 256 octets (RFC 5321 4.5.3.1.3)")
    if not allow_utf8 and not path.isascii():
        raise AddressError("non-ASCII address needs the SMTPUTF8 parameter (RFC 6531)")
    return path


def parse_parameters(text: str) -> Dict[str, Optional[str]]:
    """
    Parse ``KEY=value KEY`` ESMTP parameters (RFC 5321 4.1.2), keys
    upper-cased.

    @raise AddressError: on bad syntax or a repeated key.
    """
    parameters: Dict[str, Optional[str]] = {}
    for item in text.split():
        key, equals, value = item.partition("=")
        if not _KEYWORD.match(key) or (equals and not value):
            raise AddressError(f"malformed parameter {item!r}")
        key = key.upper()
        if key in parameters:
            raise AddressError(f"parameter {key} given twice")
        parameters[key] = value if equals else None
    return parameters
