# -*- test-case-name: tests.ping.test_icmp -*-
"""
ICMP errors for ``netlab ping`` (pure, standard library only): the
C{struct sock_extended_err} a Linux socket with C{IP_RECVERR} or
C{IPV6_RECVERR} reads from its error queue, and what each error means in
the words ping users know.  The pinger's adapter reads the queue; this
module only decodes bytes.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass
from typing import Optional

#: C{sock_extended_err.ee_origin} values (linux/errqueue.h).
ORIGIN_LOCAL = 1
ORIGIN_ICMP = 2
ORIGIN_ICMP6 = 3


@dataclass(frozen=True)
class ExtendedError:
    """
    One error from a socket's error queue: the C{struct sock_extended_err}
    and the address of the host that sent the ICMP message (the offender),
    when the kernel gives one.
    """

    errno: int
    origin: int
    icmp_type: int
    icmp_code: int
    info: int
    offender: Optional[str]


def decode_extended_error(data: bytes) -> Optional[ExtendedError]:
    """
    Decode the ancillary data of an C{IP_RECVERR}/C{IPV6_RECVERR} message:
    C{u32 errno; u8 origin, type, code, pad; u32 info, data} in host byte
    order, then the offender's C{sockaddr_in}/C{sockaddr_in6}.  L{None} for
    anything shorter.
    """
    if len(data) < 16:
        return None
    errno_value, origin, icmp_type, icmp_code, _, info, _ = struct.unpack_from("=IBBBBII", data)
    offender = None
    address = data[16:]
    if len(address) >= 8:
        (family,) = struct.unpack_from("=H", address)
        if family == socket.AF_INET:
            offender = socket.inet_ntop(socket.AF_INET, address[4:8])
        elif family == socket.AF_INET6 and len(address) >= 24:
            offender = socket.inet_ntop(socket.AF_INET6, address[8:24])
    return ExtendedError(errno_value, origin, icmp_type, icmp_code, info, offender)


#: RFC 792 destination unreachable (type 3) codes, named as ping shows them.
_ICMP_UNREACHABLE = {
    0: "Destination Net Unreachable",
    1: "Destination Host Unreachable",
    2: "Destination Protocol Unreachable",
    3: "Destination Port Unreachable",
    5: "Source Route Failed",
    6: "Destination Net Unknown",
    7: "Destination Host Unknown",
    9: "Destination Net Prohibited",
    10: "Destination Host Prohibited",
    13: "Packet filtered",
}

#: RFC 4443 destination unreachable (type 1) codes.
_ICMP6_UNREACHABLE = {
    0: "No route",
    1: "Administratively prohibited",
    2: "Beyond scope",
    3: "Address unreachable",
    4: "Port unreachable",
    5: "Source address failed policy",
    6: "Reject route",
}


def icmp_error_text(error: ExtendedError) -> str:
    """
    What an error means, in the words ping users know (``Destination Port
    Unreachable``; ``Destination unreachable: Port unreachable`` for IPv6).
    """
    if error.origin == ORIGIN_ICMP:
        if error.icmp_type == 3:
            if error.icmp_code == 4:
                return f"Frag needed and DF set (mtu = {error.info})"
            return _ICMP_UNREACHABLE.get(error.icmp_code, f"Destination Unreachable, code {error.icmp_code}")
        if error.icmp_type == 11:
            return "Time to live exceeded" if error.icmp_code == 0 else "Frag reassembly time exceeded"
        return f"ICMP type {error.icmp_type}, code {error.icmp_code}"
    if error.origin == ORIGIN_ICMP6:
        if error.icmp_type == 1:
            reason = _ICMP6_UNREACHABLE.get(error.icmp_code, f"code {error.icmp_code}")
            return f"Destination unreachable: {reason}"
        if error.icmp_type == 2:
            return f"Packet too big: mtu={error.info}"
        if error.icmp_type == 3:
            return "Time exceeded: Hop limit" if error.icmp_code == 0 else "Time exceeded: Defragmentation failure"
        return f"ICMPv6 type {error.icmp_type}, code {error.icmp_code}"
    return f"local error: {os.strerror(error.errno)}" + (f" (mtu = {error.info})" if error.info else "")
