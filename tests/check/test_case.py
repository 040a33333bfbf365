"""
Tests for L{twisted_netlab.check._case}: selection by profile and id,
scores, and transcripts.
"""

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.check._case import (
    Case,
    CaseResult,
    Entry,
    EntryKind,
    Outcome,
    Profile,
    Recording,
    StreamRecord,
    Verdict,
    cut,
    escape,
    passed,
    scores,
    select,
    tally,
    transcript,
)


def make(case_id, profile=Profile.LAB):
    return Case(case_id, case_id, "lab", profile, lambda c: (), lambda r, c: passed(""))


CASES = [make("get.file"), make("get.missing"), make("host.missing", Profile.RFC), make("hardening.x", Profile.HARDENING)]


class SelectTests(SynchronousTestCase):
    def test_profiles(self):
        """
        A profile selects its cases; 'all' selects every case, in order.
        """
        self.assertEqual([c.id for c in select(CASES, "lab")], ["get.file", "get.missing"])
        self.assertEqual([c.id for c in select(CASES, "rfc")], ["host.missing"])
        self.assertEqual(select(CASES, "all"), CASES)

    def test_only_ids_and_prefixes(self):
        """
        --only takes ids and prefixes ending in '.', and keeps case order.
        """
        self.assertEqual([c.id for c in select(CASES, only=["host.missing", "get."])],
                         ["get.file", "get.missing", "host.missing"])

    def test_unknown_names_are_errors(self):
        """
        A typo in --only or --profile is an error, never an empty run.
        """
        self.assertRaises(ValueError, select, CASES, "all", ["get.flie"])
        self.assertRaises(ValueError, select, CASES, "labs")

    def test_detail_is_one_line(self):
        """
        An outcome's detail cannot span lines (the report is line based).
        """
        self.assertRaises(ValueError, Outcome, Verdict.FAIL, "a\nb")


class ScoreTests(SynchronousTestCase):
    def test_scores_per_profile(self):
        """
        Pass and warn earn the point; skips are left out of the maximum.
        """
        results = [
            CaseResult(CASES[0], Outcome(Verdict.PASS, "")),
            CaseResult(CASES[1], Outcome(Verdict.FAIL, "")),
            CaseResult(CASES[2], Outcome(Verdict.WARN, "")),
            CaseResult(CASES[3], Outcome(Verdict.SKIP, "")),
        ]
        self.assertEqual([(s.profile, s.score, s.max_score) for s in scores(results)],
                         [(Profile.LAB, 1, 2), (Profile.RFC, 1, 1), (Profile.HARDENING, 0, 0)])
        self.assertEqual(tally(results), {Verdict.PASS: 1, Verdict.FAIL: 1, Verdict.WARN: 1, Verdict.SKIP: 1})


class TranscriptTests(SynchronousTestCase):
    def test_escape(self):
        """
        CR, LF, backslash and non-printable bytes are escaped; text stays.
        """
        self.assertEqual(escape(b"GET /\r\n\x00\xff\\ok"), "GET /\\r\\n\\x00\\xff\\\\ok")

    def test_cut(self):
        """
        Long data is cut and says how much was left out.
        """
        self.assertEqual(cut(b"abcdef", 3), "abc... (3 more bytes)")
        self.assertEqual(cut(b"abc", 3), "abc")

    def test_transcript_joins_pieces_and_tells_how_it_ended(self):
        """
        Consecutive pieces one way are shown as one line; the close shows
        with its time; only the first streams are shown.
        """
        entries = (
            Entry(0.0, EntryKind.SENT, b"GET / HT"),
            Entry(0.1, EntryKind.SENT, b"TP/1.1\r\n\r\n"),
            Entry(0.2, EntryKind.RECEIVED, b"HTTP/1.1 404"),
            Entry(0.3, EntryKind.PEER_CLOSED),
        )
        text = transcript(Recording((StreamRecord(entries),)))
        self.assertEqual(text.splitlines(), ["> GET / HTTP/1.1\\r\\n\\r\\n", "< HTTP/1.1 404", "* closed by peer at 0.30s"])
        many = Recording(tuple(StreamRecord(entries) for _ in range(5)), timed_out=True, elapsed=5.0)
        text = transcript(many)
        self.assertIn("(2 more connections not shown)", text)
        self.assertIn("case time bound reached after 5.00s", text)
