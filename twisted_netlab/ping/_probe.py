# -*- test-case-name: tests.ping.test_probe -*-
"""
The probe format both sides of the ping family share (pure, standard
library only): the lab's ``Ping <seq> <time>`` and the ``sequence=<n>``
payloads, how to build one and how to recognise one in any letter case.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Optional

class PayloadFormat(enum.Enum):
    """
    The two classic wire formats of the UDP pinger lab.
    """

    #: ``Ping <sequence> <time>`` (the lab's; its server upper-cases it).
    LAB = "lab"
    #: ``sequence=<n>\ttime=<t>``.
    SEQ = "seq"


#: Filler for ``-s``: printable, so an upper-casing echo keeps it readable.
_FILLER = b"abcdefghijklmnopqrstuvwxyz0123456789"
#: The largest UDP payload over IPv4 (65535 - 20 IP - 8 UDP).
MAX_UDP_PAYLOAD = 65507

_PROBE_PATTERNS = {
    PayloadFormat.LAB: re.compile(rb"\APing ([0-9]{1,18}) ([0-9.]{1,32})(?:[ \t]|\Z)", re.IGNORECASE),
    PayloadFormat.SEQ: re.compile(rb"\Asequence=([0-9]{1,18})\ttime=([0-9.]{1,32})(?:[ \t]|\Z)", re.IGNORECASE),
}


def encode_probe(payload_format: PayloadFormat, sequence: int, timestamp: float, size: Optional[int] = None) -> bytes:
    """
    The payload of probe C{sequence} sent at C{timestamp} (seconds; the
    lab puts the sender's wall clock there, we only show it, never use it).

    With C{size}, the message is padded with a separator and filler to
    exactly C{size} bytes; a C{size} smaller than the bare message leaves it
    unpadded (the sequence and time are never cut).
    """
    if sequence < 0:
        raise ValueError("sequence must be >= 0")
    if payload_format is PayloadFormat.LAB:
        message = b"Ping %d %.6f" % (sequence, timestamp)
        separator = b" "
    else:
        message = b"sequence=%d\ttime=%.6f" % (sequence, timestamp)
        separator = b"\t"
    if size is None or size <= len(message):
        return message
    if size > MAX_UDP_PAYLOAD:
        raise ValueError(f"size must be <= {MAX_UDP_PAYLOAD}")
    padding = size - len(message) - 1
    filler = (_FILLER * (padding // len(_FILLER) + 1))[:padding]
    return message + separator + filler


@dataclass(frozen=True)
class ProbeIdentity:
    """
    What a datagram says about itself: the format and sequence it claims.
    """

    payload_format: PayloadFormat
    sequence: int


def decode_probe(data: bytes) -> Optional[ProbeIdentity]:
    """
    Recognise a probe of either format, in any letter case (the lab's
    reference server upper-cases), or return L{None}.
    """
    for payload_format, pattern in _PROBE_PATTERNS.items():
        match = pattern.match(data)
        if match:
            return ProbeIdentity(payload_format, int(match.group(1)))
    return None



#: The sequence of a probe written by any client, lenient on the rest: the
#: lab's ``Ping <n> <anything>`` (in any case, after leading blanks) or a
#: ``seq=<n>``/``sequence=<n>`` field anywhere in the first bytes.
_LENIENT_SEQUENCE = re.compile(rb"\A\s*ping\s+([0-9]{1,18})(?![0-9])|\bseq(?:uence)?\s*[=:]\s*([0-9]{1,18})(?![0-9])", re.IGNORECASE)


def probe_sequence(data: bytes) -> Optional[int]:
    """
    The sequence number a datagram names, however its client formats the
    rest, or L{None}: what an echo server can say about a student's probe.
    Only the first 256 bytes are looked at.
    """
    match = _LENIENT_SEQUENCE.search(data[:256])
    if match is None:
        return None
    return int(match.group(1) or match.group(2))
