# -*- test-case-name: tests.heartbeat.test_beat -*-
"""
The beat wire format both sides of netlab-heartbeat share (pure, standard
library only): L{encode_beat} for the sender, L{decode_beat} and
L{verify_beat} for the monitor, and the two error families.
"""

# Three shapes share one grammar: the lab's classic "<seq> - <epoch>", the
# same followed by "id=NAME boot=HEX" (extended), and that followed by
# "mac=HEX" (signed: HMAC-SHA256 over everything before " mac=").  The
# canonical shapes are decoded with one regular expression (the monitor's hot
# path); anything else goes field by field, which gives every refusal its
# reason.

from __future__ import annotations

import enum
import hashlib
import hmac
import math
import re
from dataclasses import dataclass
from typing import Dict, Optional

# --------------------------------------------------------------------------
# Errors

class LocalProtocolError(ValueError):
    """
    Our caller asked for something impossible (a negative sequence, an id
    the grammar cannot carry, bad settings).
    """


class PeerProtocolError(ValueError):
    """
    A datagram from the network is not a beat.  C{reason} is the
    L{RejectReason} under which it is counted.
    """

    def __init__(self, reason: "RejectReason", detail: str) -> None:
        ValueError.__init__(self, detail)
        self.reason = reason
        self.detail = detail


class RejectReason(enum.Enum):
    """
    Why a datagram was not accepted: the wire format's own reasons
    (oversized, malformed) and the monitor's (the rest).
    """

    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    ABSURD_TIMESTAMP = "absurd timestamp"
    UNSIGNED = "unsigned"
    FORGED = "forged"
    REPLAYED = "replayed"
    TOO_MANY_CLIENTS = "too many clients"


# --------------------------------------------------------------------------
# Wire format

#: Beats are one short line; anything longer is not one of ours.
MAX_DATAGRAM_BYTES = 512
#: Sequence numbers are non-negative and fit a signed 64-bit integer.
MAX_SEQUENCE = 2**63 - 1
#: Client ids: start with a letter, then letters, digits and ``._@-``; no
#: ``:`` so an id never looks like an address (``127.0.0.1:5000``, ``::1``).
CLIENT_ID_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9._@-]{0,63}\Z")
#: Boot ids: 64 random bits, hex.
BOOT_BYTES = 8
#: Domain separation for the HMAC, so a beat's MAC is useless anywhere else.
MAC_LABEL = b"netlab-heartbeat-1 "
MIN_KEY_BYTES = 16

_HEAD = re.compile(rb"(\d{1,19}) +- +(\d{1,15}(?:\.\d{1,9})?)")
_BOOT = re.compile(rb"[0-9a-f]{16}\Z")
_MAC = re.compile(rb"[0-9a-f]{64}\Z")


@dataclass(frozen=True)
class Beat:
    """
    One decoded beat.  C{signed_part} is the exact byte string the MAC
    covers (everything before C{" mac="}); it is empty for unsigned beats.
    """

    sequence: int
    sent_at: float
    client_id: Optional[str] = None
    boot: Optional[str] = None
    mac: Optional[str] = None
    signed_part: bytes = b""

    def __post_init__(self) -> None:
        if not 0 <= self.sequence <= MAX_SEQUENCE:
            raise LocalProtocolError(f"sequence out of range: {self.sequence}")
        if not math.isfinite(self.sent_at) or self.sent_at < 0:
            raise LocalProtocolError(f"timestamp must be finite and >= 0: {self.sent_at!r}")
        if self.client_id is not None and not CLIENT_ID_PATTERN.match(self.client_id):
            raise LocalProtocolError(f"bad client id {self.client_id!r}")
        if self.boot is not None and not _BOOT.match(self.boot.encode("ascii", "replace")):
            raise LocalProtocolError(f"bad boot id {self.boot!r}")


def new_boot_id(random_bytes: bytes) -> str:
    """
    A boot id from C{BOOT_BYTES} random bytes (the caller supplies them,
    e.g. from C{os.urandom}).  A sender picks one per process start, so a
    restart is recognisable even though its sequence starts at 0 again.
    """
    if len(random_bytes) != BOOT_BYTES:
        raise LocalProtocolError(f"a boot id needs {BOOT_BYTES} random bytes")
    return random_bytes.hex()


def check_key(key: bytes) -> bytes:
    """
    Validate a shared HMAC key (at least C{MIN_KEY_BYTES} bytes).
    """
    if len(key) < MIN_KEY_BYTES:
        raise LocalProtocolError(f"the key must be at least {MIN_KEY_BYTES} bytes, got {len(key)}")
    return key


def compute_mac(key: bytes, signed_part: bytes) -> str:
    return hmac.new(key, MAC_LABEL + signed_part, hashlib.sha256).hexdigest()


def encode_beat(
    sequence: int,
    sent_at: float,
    client_id: Optional[str] = None,
    boot: Optional[str] = None,
    key: Optional[bytes] = None,
) -> bytes:
    """
    Encode a beat.  Without C{client_id}, C{boot} and C{key} this is the
    lab's classic C{b"<seq> - <epoch>"}; C{key} requires C{boot}, because
    without it a replayed beat of an earlier run could not be told apart.
    """
    beat = Beat(sequence, sent_at, client_id, boot)
    parts = [b"%d - %.6f" % (beat.sequence, beat.sent_at)]
    if client_id is not None:
        parts.append(b"id=" + client_id.encode("ascii"))
    if boot is not None:
        parts.append(b"boot=" + boot.encode("ascii"))
    line = b" ".join(parts)
    if key is not None:
        if boot is None:
            raise LocalProtocolError("a signed beat needs a boot id")
        line += b" mac=" + compute_mac(check_key(key), line).encode("ascii")
    return line


#: The canonical shapes L{encode_beat} writes (and the lab's classic line),
#: in one match: C{<seq> - <epoch>[ id=NAME][ boot=HEX[ mac=HEX]]}.  What it
#: accepts, the field-by-field path accepts with the same result (a property
#: test checks it); everything else goes that way.
_CANONICAL = re.compile(
    rb"(\d{1,19}) +- +(\d{1,15}(?:\.\d{1,9})?)"
    rb"(?: id=([A-Za-z][A-Za-z0-9._@-]{0,63}))?"
    rb"(?: boot=([0-9a-f]{16})(?: mac=([0-9a-f]{64}))?)?"
)
_new = object.__new__
_set = object.__setattr__


def decode_beat(data: bytes) -> Beat:
    """
    Decode one datagram.  Surrounding whitespace (a lab client's trailing
    newline) is allowed; anything else outside the grammar is refused.

    The canonical shapes are matched at once (this is the monitor's hot
    path: one call per beat); the rest are decoded field by field.

    @raise PeerProtocolError: with reason L{RejectReason.OVERSIZED} or
        L{RejectReason.MALFORMED}.
    """
    if len(data) > MAX_DATAGRAM_BYTES:
        raise PeerProtocolError(RejectReason.OVERSIZED, f"{len(data)} bytes (limit {MAX_DATAGRAM_BYTES})")
    text = data.strip(b" \t\r\n")
    match = _CANONICAL.fullmatch(text)
    if match is None:
        return _decode_slowly(data)
    sequence_text, sent_text, client_id, boot, mac = match.groups()
    sequence = int(sequence_text)
    if sequence > MAX_SEQUENCE:
        return _decode_slowly(data)
    # Every field was checked by the pattern as Beat.__post_init__ would:
    # fill the frozen instance in one step, without checking again.
    beat = _new(Beat)
    _set(beat, "__dict__", {
        "sequence": sequence,
        "sent_at": float(sent_text),
        "client_id": None if client_id is None else client_id.decode("ascii"),
        "boot": None if boot is None else boot.decode("ascii"),
        "mac": None if mac is None else mac.decode("ascii"),
        "signed_part": b"" if mac is None else text[: match.start(5) - 5],
    })
    return beat


def _decode_slowly(data: bytes) -> Beat:
    """
    L{decode_beat} field by field: any order of C{id=}/C{boot=}, every
    refusal with its own reason.
    """
    if len(data) > MAX_DATAGRAM_BYTES:
        raise PeerProtocolError(RejectReason.OVERSIZED, f"{len(data)} bytes (limit {MAX_DATAGRAM_BYTES})")
    text = data.strip(b" \t\r\n")
    head = _HEAD.match(text)
    if head is None:
        raise PeerProtocolError(RejectReason.MALFORMED, "not '<sequence> - <timestamp>'")
    sequence = int(head.group(1))
    if sequence > MAX_SEQUENCE:
        raise PeerProtocolError(RejectReason.MALFORMED, "sequence number too large")
    sent_at = float(head.group(2))
    fields: Dict[bytes, bytes] = {}
    rest = text[head.end():]
    signed_part = b""
    if rest:
        if not rest.startswith(b" "):
            raise PeerProtocolError(RejectReason.MALFORMED, "junk after the timestamp")
        for token in rest[1:].split(b" "):
            name, equals, value = token.partition(b"=")
            if not equals or name not in (b"id", b"boot", b"mac") or name in fields:
                raise PeerProtocolError(RejectReason.MALFORMED, f"unexpected field {token[:20]!r}")
            if b"mac" in fields:
                raise PeerProtocolError(RejectReason.MALFORMED, "mac= must be the last field")
            fields[name] = value
    client_id = boot = mac = None
    if b"id" in fields:
        client_id = fields[b"id"].decode("ascii", "replace")
        if not CLIENT_ID_PATTERN.match(client_id):
            raise PeerProtocolError(RejectReason.MALFORMED, "bad client id")
    if b"boot" in fields:
        if not _BOOT.match(fields[b"boot"]):
            raise PeerProtocolError(RejectReason.MALFORMED, "bad boot id")
        boot = fields[b"boot"].decode("ascii")
    if b"mac" in fields:
        if not _MAC.match(fields[b"mac"]) or boot is None:
            raise PeerProtocolError(RejectReason.MALFORMED, "bad mac= (64 hex digits, after boot=)")
        mac = fields[b"mac"].decode("ascii")
        signed_part = text[: text.rindex(b" mac=")]
    return Beat(sequence, sent_at, client_id, boot, mac, signed_part)


def verify_beat(beat: Beat, key: bytes) -> bool:
    """
    Whether C{beat} carries a valid MAC under C{key} (constant-time compare).
    """
    if beat.mac is None:
        return False
    return hmac.compare_digest(compute_mac(key, beat.signed_part), beat.mac)
