"""
Table tests for L{twisted_netlab.web._negotiation}: entity tags,
preconditions (RFC 9110 13) and range selection (RFC 9110 14).
"""

from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.web._server_core import http_date
from twisted_netlab.web._negotiation import (
    MAX_RANGES,
    FullResponse,
    PartialResponse,
    Precondition,
    UnsatisfiableRange,
    coalesce,
    evaluate_preconditions,
    if_range_allows,
    make_etag,
    multipart_layout,
    parse_etag_list,
    select_ranges,
    strong_match,
    weak_match,
)

ETAG = '"abc"'
MTIME = 784111777.0
DATE = http_date(MTIME)
EARLIER = http_date(MTIME - 10)
LATER = http_date(MTIME + 10)


class EntityTagTests(SynchronousTestCase):
    def test_make_etag_is_strong_and_quoted(self):
        """
        Our entity tags are strong (no W/) and quoted, and change with any
        of inode, size and mtime.
        """
        tag = make_etag(1, 2, 3)
        self.assertEqual(tag, '"1-2-3"')
        self.assertNotEqual(tag, make_etag(1, 2, 4))

    def test_parse_lists(self):
        """
        Lists, weak tags, empty elements and * parse; junk matches nothing.
        """
        table = [
            ('"a"', [(False, '"a"')]),
            ('W/"a", "b"', [(True, '"a"'), (False, '"b"')]),
            (' "a" ,, "b" ', [(False, '"a"'), (False, '"b"')]),
            ("*", None),
            ("a", []),
            ('"a" "b"', []),
            ('"a', []),
        ]
        for value, expected in table:
            self.assertEqual(parse_etag_list(value), expected, value)

    def test_weak_and_strong_comparison(self):
        """
        RFC 9110 8.8.3.2: W/"abc" matches "abc" weakly, never strongly.
        """
        tags = parse_etag_list('W/"abc"')
        self.assertTrue(weak_match(tags, ETAG))
        self.assertFalse(strong_match(tags, ETAG))
        self.assertTrue(strong_match(parse_etag_list('"x", "abc"'), ETAG))
        self.assertTrue(strong_match(None, ETAG))


class PreconditionTests(SynchronousTestCase):
    def evaluate(self, method="GET", im=None, inm=None, ims=None, ius=None):
        return evaluate_preconditions(method, im, inm, ims, ius, ETAG, MTIME)

    def test_table(self):
        """
        RFC 9110 13.2.2 order and outcomes for GET.
        """
        table = [
            ({}, Precondition.PROCEED),
            ({"inm": ETAG}, Precondition.NOT_MODIFIED),
            ({"inm": 'W/"abc"'}, Precondition.NOT_MODIFIED),  # weak comparison
            ({"inm": '"x", "abc"'}, Precondition.NOT_MODIFIED),
            ({"inm": "*"}, Precondition.NOT_MODIFIED),
            ({"inm": '"x"'}, Precondition.PROCEED),
            ({"ims": DATE}, Precondition.NOT_MODIFIED),
            ({"ims": LATER}, Precondition.NOT_MODIFIED),
            ({"ims": EARLIER}, Precondition.PROCEED),
            ({"ims": "not a date"}, Precondition.PROCEED),
            # If-Modified-Since is ignored when If-None-Match is present.
            ({"inm": '"x"', "ims": LATER}, Precondition.PROCEED),
            ({"im": ETAG}, Precondition.PROCEED),
            ({"im": '"x"'}, Precondition.FAILED),
            ({"im": 'W/"abc"'}, Precondition.FAILED),  # strong comparison
            ({"im": "*"}, Precondition.PROCEED),
            ({"ius": EARLIER}, Precondition.FAILED),
            ({"ius": DATE}, Precondition.PROCEED),
            ({"im": ETAG, "ius": EARLIER}, Precondition.PROCEED),  # ius ignored
            ({"im": '"x"', "inm": ETAG}, Precondition.FAILED),  # If-Match first
            # A failed If-Unmodified-Since (step 2) wins over a matching
            # If-None-Match (step 3): 412, not 304.
            ({"ius": EARLIER, "inm": ETAG}, Precondition.FAILED),
            ({"ius": EARLIER, "ims": DATE}, Precondition.FAILED),
        ]
        for headers, expected in table:
            self.assertEqual(self.evaluate(**headers), expected, headers)

    def test_if_none_match_on_other_methods_fails(self):
        """
        For methods other than GET/HEAD a matching If-None-Match is 412.
        """
        self.assertEqual(self.evaluate("DELETE", inm=ETAG), Precondition.FAILED)
        self.assertEqual(self.evaluate("HEAD", inm=ETAG), Precondition.NOT_MODIFIED)


class IfRangeTests(SynchronousTestCase):
    def test_table(self):
        """
        If-Range holds for the same strong tag or the exact Last-Modified
        date; weak tags and other dates send the whole file.
        """
        table = [
            (ETAG, True),
            ('"x"', False),
            ('W/"abc"', False),
            (DATE, True),
            (EARLIER, False),
            (LATER, False),
            ("garbage", False),
        ]
        for value, expected in table:
            self.assertEqual(if_range_allows(value, ETAG, MTIME), expected, value)


class RangeSelectionTests(SynchronousTestCase):
    def test_table(self):
        """
        Single, open, suffix, clipped, unsatisfiable and ignored ranges on
        a 1000-byte file.
        """
        table = [
            ("bytes=0-99", PartialResponse(((0, 99),))),
            ("bytes=100-", PartialResponse(((100, 999),))),
            ("bytes=-100", PartialResponse(((900, 999),))),
            ("bytes=-5000", PartialResponse(((0, 999),))),
            ("bytes=900-5000", PartialResponse(((900, 999),))),  # clipped
            ("bytes=999-999", PartialResponse(((999, 999),))),
            ("bytes=1000-", UnsatisfiableRange()),
            ("bytes=1000-2000", UnsatisfiableRange()),
            ("bytes=-0", UnsatisfiableRange()),
            ("bytes=1000-, 0-0", PartialResponse(((0, 0),))),  # satisfiable part kept
            ("BYTES = 0-0", PartialResponse(((0, 0),))),
            ("bytes=5-1", FullResponse()),  # invalid: ignore Range
            ("bytes=abc", FullResponse()),
            ("bytes=", FullResponse()),
            ("items=0-1", FullResponse()),
            ("0-1", FullResponse()),
            ("bytes=0-1-2", FullResponse()),
            ("bytes= 0-9 , 500-509", PartialResponse(((0, 9), (500, 509)))),
            ("bytes=500-509,0-9", PartialResponse(((0, 9), (500, 509)))),  # sorted
            ("bytes=0-99,50-149", PartialResponse(((0, 149),))),  # overlap merged
            ("bytes=0-9,20-29", PartialResponse(((0, 29),))),  # nearby merged
        ]
        for value, expected in table:
            self.assertEqual(select_ranges(value, 1000), expected, value)

    def test_empty_file(self):
        """
        Any byte range of an empty file is unsatisfiable.
        """
        self.assertEqual(select_ranges("bytes=0-", 0), UnsatisfiableRange())
        self.assertEqual(select_ranges("bytes=-1", 0), UnsatisfiableRange())

    def test_too_many_ranges_are_ignored(self):
        """
        More than MAX_RANGES (16, as documented) ranges answer 200, so a
        short header cannot ask for thousands of parts.
        """
        self.assertEqual(MAX_RANGES, 16)
        many = "bytes=" + ",".join(f"{i * 200}-{i * 200}" for i in range(MAX_RANGES + 1))
        self.assertEqual(select_ranges(many, 1 << 20), FullResponse())
        allowed = "bytes=" + ",".join(f"{i * 200}-{i * 200}" for i in range(MAX_RANGES))
        self.assertEqual(len(select_ranges(allowed, 1 << 20).ranges), MAX_RANGES)

    def test_overlaps_cannot_amplify(self):
        """
        Repeating the same whole-file range many times yields one part.
        """
        value = "bytes=" + ",".join(["0-"] * MAX_RANGES)
        self.assertEqual(select_ranges(value, 5000), PartialResponse(((0, 4999),)))

    def test_coalesce(self):
        """
        Adjacent ranges merge; distant ones stay apart.
        """
        self.assertEqual(coalesce([(10, 19), (0, 9)], gap=0), ((0, 19),))
        self.assertEqual(coalesce([(0, 9), (11, 19)], gap=0), ((0, 9), (11, 19)))


class MultipartTests(SynchronousTestCase):
    def test_layout_length_matches_body(self):
        """
        The announced length equals the bytes of the body laid out.
        """
        data = bytes(range(256)) * 4
        parts, closing, length = multipart_layout([(0, 9), (500, 509)], len(data), "text/plain", "BOUND")
        body = b"".join(head + data[first : last + 1] for head, first, last in parts) + closing
        self.assertEqual(len(body), length)
        self.assertTrue(body.startswith(b"\r\n--BOUND\r\nContent-Type: text/plain\r\nContent-Range: bytes 0-9/1024\r\n\r\n"))
        self.assertTrue(body.endswith(b"\r\n--BOUND--\r\n"))


_RANGE_TEXT = st.one_of(
    st.text(alphabet="bytes=0123456789-, ", max_size=60),
    st.lists(
        st.one_of(
            st.tuples(st.integers(0, 5000), st.integers(0, 5000)).map(lambda t: f"{t[0]}-{t[1]}"),
            st.integers(0, 5000).map(lambda n: f"{n}-"),
            st.integers(0, 5000).map(lambda n: f"-{n}"),
        ),
        min_size=1,
        max_size=40,
    ).map(lambda specs: "bytes=" + ",".join(specs)),
)


class RangePropertyTests(SynchronousTestCase):
    @settings(max_examples=400, deadline=None)
    @given(_RANGE_TEXT, st.integers(0, 4000))
    def test_selection_is_always_safe(self, value, size):
        """
        For any Range header and file size the decision never raises, and
        a partial answer has at most MAX_RANGES sorted, disjoint ranges
        inside the file, whose total is at most the file: no amplification.
        """
        decision = select_ranges(value, size)
        self.assertIsInstance(decision, (FullResponse, PartialResponse, UnsatisfiableRange))
        if isinstance(decision, PartialResponse):
            ranges = decision.ranges
            self.assertTrue(1 <= len(ranges) <= MAX_RANGES)
            for first, last in ranges:
                self.assertTrue(0 <= first <= last < size)
            for (_, previous_last), (next_first, _) in zip(ranges, ranges[1:]):
                self.assertGreater(next_first, previous_last + 1)
            self.assertLessEqual(sum(last - first + 1 for first, last in ranges), size)

    @settings(max_examples=300, deadline=None)
    @given(st.text(max_size=80))
    def test_etag_lists_never_raise(self, value):
        """
        Any header text parses to *, a list of tags, or nothing.
        """
        tags = parse_etag_list(value)
        self.assertTrue(tags is None or isinstance(tags, list))
        if tags:
            for weak, tag in tags:
                self.assertTrue(tag.startswith('"') and tag.endswith('"'))
