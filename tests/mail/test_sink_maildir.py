"""
Tests for L{twisted_netlab.mail._maildir}: unique names, atomic delivery
(tmp, fsync, rename into new, fsync new) and the listing.
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._maildir import Maildir, is_queue_id, summarize, trace_headers, unique_name


class RecordingOS:
    """
    Records fsync/rename calls and what tmp/ and new/ held at each.
    """

    def __init__(self, root):
        self.root = root
        self.calls = []
        self.fail_rename = False

    def snapshot(self):
        return (sorted(os.listdir(os.path.join(self.root, "tmp"))), sorted(os.listdir(os.path.join(self.root, "new"))))

    def fsync(self, descriptor):
        self.calls.append(("fsync", self.snapshot()))
        os.fsync(descriptor)

    def rename(self, source, destination):
        self.calls.append(("rename", os.path.basename(os.path.dirname(source)), os.path.basename(os.path.dirname(destination))))
        if self.fail_rename:
            raise OSError(28, "No space left on device")
        os.rename(source, destination)


class UniqueNameTests(SynchronousTestCase):
    def test_format(self):
        """
        Names carry seconds, microseconds, pid, counter and randomness, and
        escape '/' and ':' in the host name.
        """
        name = unique_name(1700000000.25, 42, 7, "abcdef", "h:o/st")
        self.assertEqual(name, "1700000000.M250000P42Q7Rabcdef.h\\072o\\057st")
        self.assertTrue(is_queue_id(name))
        self.assertNotEqual(unique_name(1.0, 1, 1, "aa", "h"), unique_name(1.0, 1, 2, "aa", "h"))


class DeliveryTests(SynchronousTestCase):
    def setUp(self):
        self.root = self.mktemp()
        self.recorder = RecordingOS(self.root)
        self.maildir = Maildir(self.root, fsync=self.recorder.fsync, rename=self.recorder.rename)
        self.maildir.create()

    def test_tmp_then_fsync_then_new(self):
        """
        The file is written in tmp/ and fsynced there (new/ still empty),
        renamed tmp -> new, then new/ is fsynced; the content is intact and
        private (0600).
        """
        path = self.maildir.deliver("m1", [b"Subject: a\r\n", b"\r\nbody\r\n"])
        self.assertEqual(
            self.recorder.calls,
            [("fsync", (["m1"], [])), ("rename", "tmp", "new"), ("fsync", ([], ["m1"]))],
        )
        with open(path, "rb") as handle:
            self.assertEqual(handle.read(), b"Subject: a\r\n\r\nbody\r\n")
        self.assertEqual(os.stat(path).st_mode & 0o777, 0o600)

    def test_failed_rename_leaves_nothing(self):
        """
        If the rename fails (a crash or a full disk) nothing is in new/ and
        the tmp file is removed; the error reaches the caller.
        """
        self.recorder.fail_rename = True
        self.assertRaises(OSError, self.maildir.deliver, "m1", [b"x"])
        self.assertEqual(self.recorder.snapshot(), ([], []))

    def test_no_overwrite(self):
        """
        A name that exists already is never overwritten.
        """
        self.maildir.deliver("m1", [b"first"])
        self.assertRaises(OSError, self.maildir.deliver, "m1", [b"second"])
        with open(os.path.join(self.root, "new", "m1"), "rb") as handle:
            self.assertEqual(handle.read(), b"first")

    def test_remove_orphans(self):
        """
        Every file in tmp/ not owned by a delivery in progress is removed,
        however young, and reported with its size; new/ is untouched.
        """
        for name, size in [("crashed", 6), ("owned", 1)]:
            with open(os.path.join(self.root, "tmp", name), "wb") as handle:
                handle.write(b"x" * size)
        self.maildir.deliver("kept", [b"k"])
        self.assertEqual(self.maildir.remove_orphans(owned={"owned"}), [("crashed", 6)])
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), ["owned"])
        self.assertEqual(os.listdir(os.path.join(self.root, "new")), ["kept"])

    def test_streamed_delivery(self):
        """
        begin/write/commit appends as the body arrives and renames at the
        end; abort removes the tmp file; a finished delivery takes no more.
        """
        delivery = self.maildir.begin("s1")
        delivery.write(b"part one, ")
        delivery.write(b"part two")
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), ["s1"])
        delivery.commit()
        with open(os.path.join(self.root, "new", "s1"), "rb") as handle:
            self.assertEqual(handle.read(), b"part one, part two")
        self.assertRaises(ValueError, delivery.write, b"late")
        aborted = self.maildir.begin("s2")
        aborted.write(b"x")
        aborted.abort()
        self.assertEqual(os.listdir(os.path.join(self.root, "tmp")), [])


class ListingTests(SynchronousTestCase):
    def test_list_newest_first_with_envelope(self):
        """
        list_messages reads envelope and summary headers, newest first,
        limited; path_of only finds listed files.
        """
        root = self.mktemp()
        maildir = Maildir(root)
        maildir.create()
        for index in range(3):
            header = trace_headers(f"s{index}@a.test", ["r1@b.test", "r2@b.test"], "helo", "[127.0.0.1]:1", "mx", "ESMTP", f"q{index}", 0.0)
            path = maildir.deliver(f"q{index}", [header, f"Subject: =?utf-8?q?n=C2=B0{index}?=\r\n\r\nbody\r\n".encode()])
            os.utime(path, (1000 + index, 1000 + index))
        listed = maildir.list_messages(limit=2)
        self.assertEqual([m.name for m in listed], ["q2", "q1"])
        self.assertEqual(listed[0].sender, "s2@a.test")
        self.assertEqual(listed[0].recipients, ("r1@b.test", "r2@b.test"))
        self.assertEqual(listed[0].headers["Subject"], "n\u00b02")
        self.assertEqual(maildir.count(), 3)
        self.assertEqual(maildir.path_of("q0"), os.path.join(maildir.root, "new", "q0"))
        self.assertIsNone(maildir.path_of("../new/q0"))

    def test_trace_headers_fold(self):
        """
        Many recipients fold into lines under 80 characters.
        """
        header = trace_headers("", [f"user{n}@example.test" for n in range(20)], "h", "p", "mx", "ESMTPS", "q", 0.0)
        for line in header.split(b"\r\n"):
            self.assertLess(len(line), 80)
        sender, recipients, _ = summarize(header + b"\r\n")
        self.assertEqual(sender, "")
        self.assertEqual(len(recipients), 20)
