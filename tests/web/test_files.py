"""
Tests for L{twisted_netlab.web._files}: safe resolution below the root
(containment, symlinks, trailing slashes), what errors mean, the
open-file cache and listing entries.
"""

import errno
import os

from hypothesis import example, given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.web.test_server import BIG, make_site
from twisted_netlab.web import _files
from twisted_netlab.web._files import FileTree, content_type_of, inside, names_folder
from twisted_netlab.web._plan import Folder, Listing, NotFound, Representation, Unavailable
from twisted_netlab.web._server_core import UnsafePath


_SEGMENTS = ["sub", "list", "inner", "hello.txt", "out", "out_dir", "..", ".", "", "%2e%2e", "%2E%2e%2F", "%2f",
             "%5c", "..%2f..", "%00", "evil.com", "index.html", "%252e%252e", "\\..", "inside"]


class ContainmentPropertyTests(SynchronousTestCase):
    @settings(max_examples=500, deadline=None)
    @given(st.lists(st.sampled_from(_SEGMENTS), max_size=6), st.booleans())
    @example(["list", "inner"], True)
    @example(["list", "inside", "..", "out"], False)
    def test_resolution_never_leaves_the_root(self, segments, trailing_slash):
        """
        Whatever a target is made of (dot-dots plain or encoded, encoded
        slashes and backslashes, NUL, symlinks out of the root and inside
        it), what gets resolved lies inside the root.
        """
        files = self.files
        path = "/" + "/".join(segments) + ("/" if trailing_slash else "")
        try:
            resolved = files.resolve_uncached(path)
        except UnsafePath:
            return
        if isinstance(resolved, (Representation, Folder)):
            real = os.path.realpath(resolved.real)
            self.assertTrue(real == files.root or real.startswith(files.root + os.sep), (path, real))

    def setUp(self):
        self.files = FileTree(make_site(self), cache_seconds=0)
        self.addCleanup(self.files.close)
        root = self.files.root
        outside = self.mktemp()
        os.makedirs(outside)
        with open(os.path.join(outside, "index.html"), "wb") as f:
            f.write(b"secret")
        os.symlink(os.path.abspath(outside), os.path.join(root, "out_dir"))
        os.symlink(os.path.join(os.path.abspath(outside), "index.html"), os.path.join(root, "out"))
        os.symlink(os.path.join(root, "sub"), os.path.join(root, "list", "inside"))
        os.symlink(os.path.join(os.path.abspath(outside), "index.html"), os.path.join(root, "list", "inner", "index.html"))




class FileTreeTests(SynchronousTestCase):
    def setUp(self):
        self.files = FileTree(make_site(self), cache_seconds=1.0)
        self.addCleanup(self.files.close)
        self.root = self.files.root

    def test_small_file_read_whole_large_file_described(self):
        """
        A small file's bytes come with its representation; a large one is
        described (size, identity, symlink-free segments) and reopened for
        streaming.
        """
        small = self.files.resolve_uncached("/hello.txt")
        self.assertIsInstance(small, Representation)
        self.assertEqual((small.body, small.size, small.segments), (b"hello world\n", 12, ("hello.txt",)))
        big = self.files.resolve_uncached("/big.bin")
        self.assertIsNone(big.body)
        handle, described = self.files.open_for_streaming(big)
        self.addCleanup(handle.close)
        self.assertEqual(described.size, len(BIG))
        self.assertEqual(os.pread(handle.fileno(), 4, 0), BIG[:4])
        self.assertEqual(described.identity, big.identity)

    def test_trailing_slash_after_a_file_is_not_found(self):
        """
        A file named as a folder (C{/hello.txt/}, C{/hello.txt/.},
        C{/hello.txt/%2e}) is not found; a folder with its slash is.
        """
        for path in ("/hello.txt/", "/hello.txt/.", "/hello.txt/%2e"):
            self.assertIs(self.files.resolve_uncached(path), NotFound.NOT_FOUND, path)
        self.assertIsInstance(self.files.resolve_uncached("/list/"), Folder)
        self.assertTrue(names_folder("/a/%2E"))
        self.assertFalse(names_folder("/a/b"))

    def test_symlink_swapped_in_after_resolution_is_refused(self):
        """
        A large file replaced by a symlink leading out of the root after it
        was resolved is not followed when reopened for streaming.
        """
        big = self.files.resolve_uncached("/big.bin")
        outside = os.path.abspath(self.mktemp())
        with open(outside, "wb") as f:
            f.write(b"OUTSIDE" * 10000)
        os.unlink(os.path.join(self.root, "big.bin"))
        os.symlink(outside, os.path.join(self.root, "big.bin"))
        self.assertIs(self.files.open_for_streaming(big), NotFound.NOT_FOUND)
        self.assertIs(self.files.resolve_uncached("/big.bin"), NotFound.NOT_FOUND)

    def test_error_kinds(self):
        """
        Absent and forbidden (ENOENT, ENOTDIR, ELOOP, EACCES, EPERM) are
        not found; anything else (EMFILE, ENFILE, ENOMEM, EIO) is
        Unavailable with the errno's name, and is never cached.
        """
        real_open = os.open

        def failing_with(number):
            def failing(path, flags, mode=0o777, *, dir_fd=None):
                if path == "hello.txt":
                    raise OSError(number, os.strerror(number))
                return real_open(path, flags, mode, dir_fd=dir_fd)

            return failing

        cases = [
            (errno.ENOENT, NotFound.NOT_FOUND),
            (errno.EACCES, NotFound.NOT_FOUND),
            (errno.EPERM, NotFound.NOT_FOUND),
            (errno.EMFILE, Unavailable("EMFILE")),
            (errno.ENFILE, Unavailable("ENFILE")),
            (errno.ENOMEM, Unavailable("ENOMEM")),
            (errno.EIO, Unavailable("EIO")),
        ]
        for index, (number, expected) in enumerate(cases):
            self.patch(_files.os, "open", failing_with(number))
            self.assertEqual(self.files.resolve("/hello.txt", 100.0 + 10 * index), expected, number)
        # An Unavailable answer is not cached; a NotFound one is (for the TTL).
        self.patch(_files.os, "open", failing_with(errno.EMFILE))
        self.assertEqual(self.files.resolve("/hello.txt", 200.0), Unavailable("EMFILE"))
        self.patch(_files.os, "open", real_open)
        self.assertIsInstance(self.files.resolve("/hello.txt", 200.1), Representation)
        self.patch(_files.os, "open", failing_with(errno.ENOENT))
        self.assertIs(self.files.resolve("/hello.txt", 300.0), NotFound.NOT_FOUND)
        self.patch(_files.os, "open", real_open)
        self.assertIs(self.files.resolve("/hello.txt", 300.1), NotFound.NOT_FOUND)

    def test_cache_holds_what_was_read(self):
        """
        Within the TTL the cached representation (with the bytes read) is
        served even if the file changes; after it, the new bytes.
        """
        path = os.path.join(self.root, "hello.txt")
        self.assertEqual(self.files.resolve("/hello.txt", 10.0).body, b"hello world\n")
        with open(path, "wb") as f:
            f.write(b"new\n")
        self.assertEqual(self.files.resolve("/hello.txt", 10.9).body, b"hello world\n")
        self.assertEqual(self.files.resolve("/hello.txt", 11.0).body, b"new\n")

    def test_listing_entries(self):
        """
        A listing has folders and regular files, no dotfiles, no FIFOs, no
        symlinks leading out of the root (one staying inside is listed).
        """
        os.mkfifo(os.path.join(self.root, "list", "pipe"))
        os.symlink("/etc/passwd", os.path.join(self.root, "list", "out"))
        os.symlink(os.path.join(self.root, "hello.txt"), os.path.join(self.root, "list", "in"))
        listing = self.files.list_folder(self.files.resolve_uncached("/list/"))
        self.assertIsInstance(listing, Listing)
        names = sorted(entry.name for entry in listing.entries)
        self.assertEqual(names, ["<b>&x.txt", "in", "inner", "plain.bin"])

    def test_inside_needs_the_separator(self):
        """
        C{/srv/www-secret} is not inside C{/srv/www}.
        """
        self.assertTrue(inside("/srv/www", "/srv/www"))
        self.assertTrue(inside("/srv/www", "/srv/www/a"))
        self.assertFalse(inside("/srv/www", "/srv/www-secret/a"))

    def test_content_types(self):
        """
        Text gets a UTF-8 charset; compressed files are opaque bytes.
        """
        self.assertEqual(content_type_of("/a/b.HTML"), "text/html; charset=utf-8")
        self.assertEqual(content_type_of("/a/b.tar.gz"), "application/octet-stream")
        self.assertEqual(content_type_of("/a/README"), "application/octet-stream")


class FileTreeLimitTests(SynchronousTestCase):
    def test_cache_holds_at_most_512_entries(self):
        """
        The open-file cache empties itself when 512 entries are held and a
        513th path comes: it never holds more than 512.
        """
        files = FileTree(make_site(self), cache_seconds=10.0)
        self.addCleanup(files.close)
        for number in range(512):
            files.resolve(f"/missing-{number}", 1.0)
        self.assertEqual(len(files._cache), 512)
        files.resolve("/one-more", 1.0)
        self.assertEqual(len(files._cache), 1)

    def test_large_file_shrunk_to_exactly_the_small_size_is_read_whole(self):
        """
        A large file that shrank to exactly 32 KiB by the time it is
        reopened is read whole (no handle to stream from), as any file of
        that size is.
        """
        files = FileTree(make_site(self), cache_seconds=0)
        self.addCleanup(files.close)
        big = files.resolve_uncached("/big.bin")
        with open(os.path.join(files.root, "big.bin"), "r+b") as f:
            f.truncate(_files.SMALL_FILE)
        handle, shrunk = files.open_for_streaming(big)
        self.assertIsNone(handle)
        self.assertEqual((shrunk.size, len(shrunk.body)), (32 * 1024, 32 * 1024))
        self.assertIsNotNone(files.resolve_uncached("/big.bin").body)
