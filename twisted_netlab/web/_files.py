# -*- test-case-name: tests.web.test_files -*-
"""
The filesystem side of netlab-http: the served root, safe resolution of
request paths, the open-file cache and the entries of folder listings.
Blocking system calls but no Twisted; time comes in as C{now}.

Containment: every path is opened one segment at a time from a directory
fd of the root, each segment with C{O_NOFOLLOW}, so no symlink is ever
followed past the check.  A symlink met on the way is allowed only when
its realpath stays inside the root, and then that realpath (which has no
symlinks) is walked again the same way: a symlink swapped in meanwhile
makes the walk fail (ELOOP) instead of leading out of the root.
"""

from __future__ import annotations

import errno
import mimetypes
import os
import stat
import weakref
from functools import lru_cache
from typing import Dict, List, Optional, Tuple, Union
from urllib.parse import unquote

from twisted_netlab.web._listing import ListingEntry
from twisted_netlab.web._negotiation import make_etag
from twisted_netlab.web._plan import Folder, Listing, NotFound, Representation, Resolution, Unavailable
from twisted_netlab.web._server_core import http_date, target_segments

#: Files up to this size are read whole and sent with their head in one
#: write; with the file cache on, their bytes are cached too.
SMALL_FILE = 32 * 1024
#: Entries in the open-file cache; when full it is emptied.
MAX_CACHE_ENTRIES = 512
#: Entries shown in one directory listing.
MAX_LISTING_ENTRIES = 10000

#: Errors that mean "nothing servable is there" (absent or forbidden):
#: 404.  Any other error (EMFILE, ENFILE, ENOMEM, EIO, ...) says nothing
#: about the file and is answered 503, never a 404 a cache would keep.
_ABSENT = frozenset(
    [errno.ENOENT, errno.ENOTDIR, errno.ELOOP, errno.EACCES, errno.EPERM, errno.ENAMETOOLONG, errno.ENXIO, errno.ENODEV]
)

_DIRECTORY_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
# O_NONBLOCK: a FIFO or device under a served name can never block us
# (it is opened, found not regular by fstat, and refused).
_LAST_FLAGS = os.O_RDONLY | os.O_NONBLOCK | os.O_NOFOLLOW | os.O_CLOEXEC

#: Formatting a date is slow and files share few distinct mtimes.
_http_date = lru_cache(maxsize=4096)(http_date)


@lru_cache(maxsize=1024)
def content_type_for(path_or_suffix: str) -> str:
    """
    The Content-Type for a file name, with a charset for text (our bundled
    site and students' pages are UTF-8).  Cached: call it with the
    lowercased suffix (or any name) to share entries.
    """
    guessed, encoding = mimetypes.guess_type(path_or_suffix)
    if encoding is not None or guessed is None:
        # A .gz served as-is is opaque bytes, never "text/plain; gzip".
        return "application/octet-stream"
    if guessed.startswith("text/") or guessed in ("application/javascript", "application/json", "image/svg+xml"):
        return guessed + "; charset=utf-8"
    return guessed


def content_type_of(path: str) -> str:
    """
    L{content_type_for} keyed by the file's last suffix(es), so the
    cache does not grow with the number of files.
    """
    name = os.path.basename(path).lower()
    dot = name.rfind(".")
    if dot <= 0:
        return content_type_for("x")
    # ".tar.gz" needs two suffixes to be told apart from ".gz".
    second = name.rfind(".", 0, dot)
    return content_type_for("x" + (name[second:] if second > 0 else name[dot:]))


def inside(root: str, real: str) -> bool:
    """
    Whether the symlink-free path C{real} is C{root} or below it (the
    separator matters: C{/srv/www-secret} is not below C{/srv/www}).
    """
    return real == root or real.startswith(root + os.sep)


def names_folder(path: str) -> bool:
    """
    Whether a request path ends in a folder position: a trailing C{/},
    or a last segment that is C{.} (plain or percent-encoded).
    """
    return unquote(path.rpartition("/")[2]) in ("", ".")


class OpenFile:
    """
    A regular file opened for reading (C{O_NONBLOCK}, C{O_NOFOLLOW}).
    Used through C{os.pread}.
    """

    def __init__(self, fd: int, name: str) -> None:
        self.fd = fd
        self.name = name

    @classmethod
    def open(cls, path: str) -> Optional[Tuple["OpenFile", os.stat_result]]:
        """
        The opened file and its fstat, or L{None} if it is missing,
        unreadable, a symlink or not a regular file.
        """
        try:
            fd = os.open(path, _LAST_FLAGS)
        except (OSError, ValueError):
            return None
        try:
            info = os.fstat(fd)
        except OSError:
            os.close(fd)
            return None
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return None
        return cls(fd, path), info

    def fileno(self) -> int:
        return self.fd

    def read_whole(self, limit: int) -> bytes:
        """
        Up to C{limit} bytes from the start (C{limit + 1} tells a file
        that grew past it).
        """
        chunks = []
        total = 0
        while total <= limit:
            chunk = os.pread(self.fd, limit + 1 - total, total)
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        if self.fd >= 0:
            fd, self.fd = self.fd, -1
            os.close(fd)


def _failure(error: BaseException) -> Union[NotFound, Unavailable]:
    if isinstance(error, OSError) and error.errno is not None and error.errno not in _ABSENT:
        return Unavailable(errno.errorcode.get(error.errno, str(error.errno)))
    return NotFound.NOT_FOUND


class FileTree:
    """
    The files below C{root}, resolved safely and through a small cache.

    @param cache_seconds: how long a path's resolution (identity, stat,
        headers, and the bytes of small files) is reused; 0 turns the
        cache off.  A file changed on disk is served stale for at most
        this long, as with nginx's open_file_cache.
    @param cache_control: the Cache-Control value of file answers.
    """

    def __init__(self, root: str, cache_seconds: float = 1.0, cache_control: str = "no-cache") -> None:
        self.root = os.path.realpath(root)
        self.cache_seconds = cache_seconds
        self.cache_control = cache_control
        self._root_fd = os.open(self.root, _DIRECTORY_FLAGS & ~os.O_NOFOLLOW)
        self._cache: Dict[str, Tuple[float, Resolution]] = {}
        # The root's fd lives as long as this object (a factory built in a
        # test and dropped must not leak it).
        self._closer = weakref.finalize(self, os.close, self._root_fd)

    def close(self) -> None:
        self._closer()
        self._root_fd = -1

    # -- the safe walk ------------------------------------------------------

    def _walk(self, segments: Tuple[str, ...]) -> int:
        """
        An fd for C{segments} below the root, every segment opened with
        C{O_NOFOLLOW} from its parent's fd (ELOOP on any symlink).
        """
        current = self._root_fd
        try:
            for index, segment in enumerate(segments):
                last = index == len(segments) - 1
                opened = os.open(segment, _LAST_FLAGS if last else _DIRECTORY_FLAGS, dir_fd=current)
                if current != self._root_fd:
                    os.close(current)
                current = opened
        except BaseException:
            if current != self._root_fd:
                os.close(current)
            raise
        return os.dup(current) if current == self._root_fd else current

    def _lookup(self, segments: Tuple[str, ...]) -> Tuple[int, os.stat_result, Tuple[str, ...]]:
        """
        The opened fd, its fstat and symlink-free segments for the request
        C{segments}.  A symlink on the way counts only if its realpath
        stays inside the root.

        @raise OSError: absent, forbidden (ELOOP for a symlink leading out
            or swapped in), or a resource error.
        """
        try:
            fd = self._walk(segments)
        except OSError as error:
            # A symlink gives ELOOP, or ENOTDIR where a folder was wanted
            # (O_DIRECTORY | O_NOFOLLOW); either way, look at its realpath.
            if error.errno not in (errno.ELOOP, errno.ENOTDIR):
                raise
            real = os.path.realpath(os.path.join(self.root, *segments))
            if not inside(self.root, real):
                raise
            segments = tuple(real[len(self.root) + 1 :].split(os.sep)) if real != self.root else ()
            fd = self._walk(segments)
        try:
            return fd, os.fstat(fd), segments
        except BaseException:
            os.close(fd)
            raise

    def open_path(self, segments: Tuple[str, ...]) -> Union[Tuple[OpenFile, os.stat_result, Tuple[str, ...]], NotFound, Unavailable]:
        """
        The regular file at C{segments}, opened safely, or why not.
        """
        try:
            fd, info, real_segments = self._lookup(segments)
        except (OSError, ValueError) as error:
            return _failure(error)
        if not stat.S_ISREG(info.st_mode):
            os.close(fd)
            return NotFound.NOT_FOUND
        return OpenFile(fd, os.path.join(self.root, *real_segments)), info, real_segments

    # -- resolution ---------------------------------------------------------

    def resolve(self, path: str, now: float) -> Resolution:
        """
        Resolve a request path, through the open-file cache (resource
        errors are never cached).

        @raise UnsafePath: for targets that could leave the root.
        """
        if self.cache_seconds <= 0:
            return self.resolve_uncached(path)
        hit = self._cache.get(path)
        if hit is not None and hit[0] > now:
            return hit[1]
        result = self.resolve_uncached(path)
        if isinstance(result, Unavailable):
            return result
        if len(self._cache) >= MAX_CACHE_ENTRIES:
            self._cache.clear()
        self._cache[path] = (now + self.cache_seconds, result)
        return result

    def resolve_uncached(self, path: str) -> Resolution:
        """
        What is at a request path now.

        @raise UnsafePath: for targets that could leave the root.
        """
        segments = target_segments(path)
        try:
            fd, info, real_segments = self._lookup(segments)
        except (OSError, ValueError) as error:
            return _failure(error)
        handle = OpenFile(fd, os.path.join(self.root, *real_segments))
        try:
            if stat.S_ISDIR(info.st_mode):
                folder = Folder(handle.name, segments, real_segments)
                if path.endswith("/"):
                    # The index is opened like any path: a symlinked
                    # index.html leading out of the root is not served.
                    index = self.open_path(real_segments + ("index.html",))
                    if isinstance(index, Unavailable):
                        return index
                    if not isinstance(index, NotFound):
                        index_handle, index_info, index_segments = index
                        try:
                            return self._represent(index_handle, index_info, index_segments)
                        finally:
                            index_handle.close()
                return folder
            if not stat.S_ISREG(info.st_mode) or names_folder(path):
                # FIFOs, sockets, devices are never served; "/file.txt/"
                # names a folder that is not there (as nginx and Apache).
                return NotFound.NOT_FOUND
            return self._represent(handle, info, real_segments)
        except OSError as error:
            return _failure(error)
        finally:
            handle.close()

    def _represent(self, handle: OpenFile, info: os.stat_result, segments: Tuple[str, ...]) -> Representation:
        body = handle.read_whole(SMALL_FILE) if info.st_size <= SMALL_FILE else None
        return self.representation(handle.name, segments, info, body)

    def representation(
        self, real: str, segments: Tuple[str, ...], info: os.stat_result, body: Optional[bytes]
    ) -> Representation:
        """
        Build a L{Representation}; a small file's size comes from the
        bytes read, so head and body always agree.
        """
        if body is not None and len(body) > SMALL_FILE:
            body = None  # it grew meanwhile: stream it instead
        size = len(body) if body is not None else info.st_size
        mtime = float(int(info.st_mtime))
        etag = make_etag(info.st_ino, size, info.st_mtime_ns)
        content_type = content_type_of(real)
        fragment = (
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {size}\r\n"
            f"Last-Modified: {_http_date(mtime)}\r\n"
            f"ETag: {etag}\r\n"
            f"Cache-Control: {self.cache_control}\r\n"
            "Accept-Ranges: bytes\r\n"
        ).encode("latin-1")
        return Representation(real, segments, (info.st_dev, info.st_ino), size, mtime, etag, content_type, fragment, body)

    def open_for_streaming(
        self, rep: Representation
    ) -> Union[Tuple[Optional[OpenFile], Representation], NotFound, Unavailable]:
        """
        Reopen a large file (walking its symlink-free segments with
        C{O_NOFOLLOW}) and describe what was opened, so the length we
        announce is the length we stream.  A file that shrank into a
        small one comes back read whole, without a handle.
        """
        opened = self.open_path(rep.segments)
        if isinstance(opened, (NotFound, Unavailable)):
            return opened
        handle, info, segments = opened
        try:
            if info.st_size <= SMALL_FILE:
                body = handle.read_whole(SMALL_FILE)
                handle.close()
                fresh = self.representation(rep.real, segments, info, body)
                return (None, fresh) if fresh.body is not None else NotFound.NOT_FOUND
            # Describe what was opened (it may have changed since cached).
            return handle, self.representation(rep.real, segments, info, None)
        except BaseException as error:
            handle.close()
            if isinstance(error, OSError):
                return _failure(error)
            raise

    # -- listings -----------------------------------------------------------

    def list_folder(self, folder: Folder) -> Union[Listing, NotFound, Unavailable]:
        """
        The entries of a folder's listing: at most L{MAX_LISTING_ENTRIES},
        no dotfiles (as nginx's autoindex: .git and .env are not
        advertised, though served when named), no symlinks leading out of
        the root, only folders and regular files.
        """
        try:
            fd = self._walk(folder.real_segments)
        except (OSError, ValueError) as error:
            return _failure(error)
        entries: List[ListingEntry] = []
        try:
            with os.scandir(fd) as iterator:
                for entry in iterator:
                    if len(entries) >= MAX_LISTING_ENTRIES:
                        break
                    if entry.name.startswith("."):
                        continue
                    try:
                        if entry.is_symlink() and not inside(
                            self.root, os.path.realpath(os.path.join(folder.real, entry.name))
                        ):
                            continue
                        info = entry.stat()
                    except OSError:
                        continue
                    if not (stat.S_ISDIR(info.st_mode) or stat.S_ISREG(info.st_mode)):
                        continue  # FIFOs, sockets, devices: never served
                    entries.append(ListingEntry(entry.name, stat.S_ISDIR(info.st_mode), info.st_size, info.st_mtime))
        except OSError as error:
            return _failure(error)
        finally:
            os.close(fd)
        return Listing(folder, tuple(entries))


__all__ = [
    "FileTree",
    "OpenFile",
    "SMALL_FILE",
    "content_type_for",
    "content_type_of",
    "inside",
    "names_folder",
]
