# -*- test-case-name: tests.heartbeat.test_tap -*-
"""
Reading the shared HMAC key for ``--key-file`` (monitor and sender): a
small file of at least 16 bytes that only its owner may read, as ssh
insists for private keys.
"""

from __future__ import annotations

import os
import stat

from twisted.python import usage

from twisted_netlab.heartbeat._beat import MIN_KEY_BYTES

#: A key file larger than this is surely the wrong file.
MAX_KEY_FILE_BYTES = 4096


def read_key_file(path: str) -> bytes:
    """
    Return the key in C{path} (surrounding whitespace, such as the trailing
    newline of C{echo}, removed).

    @raise usage.UsageError: the file is missing, readable by others, too
        short or too long.
    """
    try:
        with open(path, "rb") as handle:
            mode = os.fstat(handle.fileno()).st_mode
            data = handle.read(MAX_KEY_FILE_BYTES + 1)
    except OSError as error:
        raise usage.UsageError(f"cannot read key file {path!r}: {error.strerror}")
    if not stat.S_ISREG(mode):
        raise usage.UsageError(f"key file {path!r} is not a regular file")
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise usage.UsageError(f"key file {path!r} is accessible by others; run: chmod 600 {path}")
    if len(data) > MAX_KEY_FILE_BYTES:
        raise usage.UsageError(f"key file {path!r} is larger than {MAX_KEY_FILE_BYTES} bytes")
    key = data.strip()
    if len(key) < MIN_KEY_BYTES:
        raise usage.UsageError(
            f"key file {path!r} holds {len(key)} bytes; use at least {MIN_KEY_BYTES} "
            "(e.g. head -c 32 /dev/urandom | base64 > FILE)"
        )
    return key
