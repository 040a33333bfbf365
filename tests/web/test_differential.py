"""
Differential test of L{twisted_netlab.web._server_core.RequestParser} against h11,
a parser nobody here wrote (the HTTP Garden approach, in the test suite).

The same generated and mutated streams go to both.  Two claims hold for
every stream:

  1. netlab never accepts a request that h11 rejects;
  2. netlab never frames a body differently: each request both accept
     ends at the same byte, so the next one starts at the same byte.

except for the differences listed in docs/http-parsing.rst ("Differences from h11"),
each of which is recognised by L{documented_difference} and pinned by
L{DocumentedDifferenceTests}.  Rejecting what h11 accepts is allowed (RFC
9112 lets a server reject much of what h11 tolerates) and is listed there
too.
"""

from typing import List, Optional, Tuple

import h11
from hypothesis import given
from hypothesis import strategies as st
from twisted.trial.unittest import SynchronousTestCase

from tests.web.test_parser_properties import SETTINGS, mutated, request
from twisted_netlab.web._server_core import NEED_DATA, ConnectionClosed, Rejection, Request, RequestParser

# (method, target, offset just after the request and its body, or None
# when netlab stopped reading there)
Done = Tuple[bytes, bytes, Optional[int]]


class Outcome:
    """
    What one parser made of a stream: the requests it completed, then how
    it stopped: "rejected", "need-data", "closed", or "stopped" (the
    connection cannot carry another request).
    """

    def __init__(self) -> None:
        self.done: List[Done] = []
        self.end = ""
        #: h11 only: the request heads it accepted (before their bodies).
        self.heads: List[Tuple[bytes, bytes]] = []

    def __repr__(self) -> str:
        return f"<{self.done} {self.end} heads={self.heads}>"


def netlab_outcome(data: bytes, eof: bool) -> Outcome:
    outcome = Outcome()
    parser = RequestParser()
    if data:
        parser.receive_data(data)
    if eof:
        parser.receive_data(b"")
    while True:
        event = parser.next_event()
        if isinstance(event, Request):
            method, target = event.method.encode("ascii"), event.target.encode("ascii")
            if event.keep_alive:
                outcome.done.append((method, target, len(data) - parser.buffered))
            else:
                outcome.done.append((method, target, None))
                outcome.end = "stopped"
                return outcome
        elif isinstance(event, Rejection):
            outcome.end = "rejected"
            return outcome
        elif isinstance(event, ConnectionClosed):
            outcome.end = "closed"
            return outcome
        else:
            assert event is NEED_DATA
            outcome.end = "need-data"
            return outcome


def h11_outcome(data: bytes, eof: bool) -> Outcome:
    """
    Drive h11 as a server, answering each request with an empty 404 so
    that it moves on to the next one.  Its size cap is raised so that the
    comparison is about rules, not about default limits.
    """
    outcome = Outcome()
    connection = h11.Connection(h11.SERVER, max_incomplete_event_size=1 << 20)
    if data:
        connection.receive_data(data)
    if eof:
        connection.receive_data(b"")
    head: Optional[h11.Request] = None
    while True:
        try:
            event = connection.next_event()
        except h11.ProtocolError:
            outcome.end = "rejected"
            return outcome
        if event is h11.NEED_DATA:
            outcome.end = "need-data"
            return outcome
        if isinstance(event, h11.Request):
            head = event
            outcome.heads.append((bytes(event.method), bytes(event.target)))
        elif isinstance(event, h11.EndOfMessage):
            assert head is not None
            remaining = len(connection.trailing_data[0])
            outcome.done.append((bytes(head.method), bytes(head.target), len(data) - remaining))
            connection.send(h11.Response(status_code=404, headers=[("Content-Length", "0")]))
            connection.send(h11.EndOfMessage())
            if connection.our_state is not h11.DONE or connection.their_state is not h11.DONE:
                outcome.end = "stopped"
                return outcome
            connection.start_next_cycle()
        elif isinstance(event, h11.ConnectionClosed):
            outcome.end = "closed"
            return outcome


def request_start(data: bytes, done: List[Done], index: int) -> bytes:
    """
    The bytes from where request C{index} starts (as netlab framed it).
    """
    offset = done[index - 1][2] if index else 0
    return data[offset or 0 :]


def documented_difference(data: bytes, index: int, netlab: Outcome, h11_result: Outcome) -> Optional[str]:
    """
    The docs entry (docs/http-parsing.rst) that explains why netlab accepted request C{index}
    where h11 did not, or L{None}.
    """
    start = request_start(data, netlab.done, index)
    head_end = start.find(b"\r\n\r\n")
    head = start[: head_end if head_end >= 0 else len(start)].lower()
    if start.startswith(b"\r\n"):
        return "leading empty lines"
    method, target, offset = netlab.done[index]
    if offset is None and b"expect:" in head and len(h11_result.heads) > index and h11_result.heads[index] == (method, target):
        return "Expect: 100-continue answered without reading the body"
    return None


def compare(testcase: SynchronousTestCase, data: bytes, eof: bool) -> None:
    netlab = netlab_outcome(data, eof)
    theirs = h11_outcome(data, eof)
    message = f"{data!r}\nnetlab: {netlab!r}\nh11: {theirs!r}"
    for index, (method, target, offset) in enumerate(netlab.done):
        if index < len(theirs.done):
            # Both completed this request: same request, same framing.
            testcase.assertEqual((method, target), theirs.done[index][:2], message)
            if offset is not None:
                testcase.assertEqual(offset, theirs.done[index][2], message)
            continue
        if theirs.end == "stopped" and index == len(theirs.done):
            # h11 closes after this point (HTTP/1.0 keep-alive, see docs/http-parsing.rst).
            testcase.assertIn(b"http/1.0", data.lower(), message)
            return
        reason = documented_difference(data, index, netlab, theirs)
        testcase.assertIsNotNone(reason, "netlab accepted what h11 did not: " + message)
        return
    if netlab.end == "need-data" and len(theirs.done) > len(netlab.done):
        testcase.fail("netlab waits for body bytes h11 did not frame: " + message)


class DifferentialTests(SynchronousTestCase):
    @SETTINGS
    @given(data=mutated(), eof=st.booleans())
    def test_mutated_streams(self, data, eof):
        """
        On mutated pipelines netlab accepts nothing h11 rejects and frames
        every body exactly as h11 does, documented differences aside.
        """
        compare(self, data, eof)

    @SETTINGS
    @given(data=st.lists(request(), min_size=1, max_size=4).map(b"".join), eof=st.booleans())
    def test_generated_streams(self, data, eof):
        """
        The same on generated, unmutated pipelines.
        """
        compare(self, data, eof)

    def test_known_streams(self):
        """
        Hand-written pipelines with bodies agree exactly with h11.
        """
        get = b"GET /a HTTP/1.1\r\nHost: h\r\n"
        for data in [
            get + b"\r\n" + get + b"Content-Length: 3\r\n\r\nabc" + get + b"\r\n",
            get + b"Transfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nT: 1\r\n\r\n" + get + b"\r\n",
            get + b"Content-Length: 4\r\n\r\nab",
            get + b"Transfer-Encoding: chunked\r\n\r\n3\r\nab",
        ]:
            netlab, theirs = netlab_outcome(data, False), h11_outcome(data, False)
            self.assertEqual(netlab.done, theirs.done, data)
            self.assertEqual(netlab.end, theirs.end, data)


class DocumentedDifferenceTests(SynchronousTestCase):
    """
    Each difference docs/http-parsing.rst lists, pinned so the list stays true.
    """

    GET = b"GET / HTTP/1.1\r\nHost: h\r\n"

    def test_docs_page_lists_the_differences(self):
        """
        The "Differences from h11" section of docs/http-parsing.rst names
        each difference pinned below, so the page and the tests agree.
        """
        import os

        page = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "docs", "http-parsing.rst")
        with open(page, encoding="utf-8") as handle:
            text = handle.read()
        section = text[text.index("Differences from h11\n") :]
        for title in ["**Empty lines before a request line**", "**HTTP/1.0 keep-alive**", "**Expect: 100-continue with a body**"]:
            self.assertIn(title, section)
        self.assertIn("netlab rejects, where h11 accepts", section)

    def assert_accepted_by_netlab_only(self, data: bytes) -> None:
        netlab, theirs = netlab_outcome(data, False), h11_outcome(data, False)
        self.assertEqual(len(netlab.done), 1, netlab)
        self.assertEqual(theirs.end, "rejected", theirs)
        self.assertEqual(theirs.done, [])

    def test_leading_empty_line(self):
        """
        RFC 9112 2.2: a server SHOULD ignore at least one empty line
        before a request line; h11 rejects it.
        """
        self.assert_accepted_by_netlab_only(b"\r\n" + self.GET + b"\r\n")

    def test_http10_keep_alive(self):
        """
        netlab keeps an HTTP/1.0 connection open on Connection:
        keep-alive (RFC 9112 9.3); h11 always closes after a 1.0 request.
        """
        first = b"GET /1 HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"
        data = first + b"GET /2 HTTP/1.0\r\n\r\n"
        netlab, theirs = netlab_outcome(data, False), h11_outcome(data, False)
        self.assertEqual([d[1] for d in netlab.done], [b"/1", b"/2"])
        self.assertEqual(([d[1] for d in theirs.done], theirs.end), ([b"/1"], "stopped"))

    def test_expect_continue(self):
        """
        With Expect: 100-continue and a body, netlab answers without
        reading the body and closes; h11 waits for the body.
        """
        data = self.GET + b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\n"
        netlab, theirs = netlab_outcome(data, False), h11_outcome(data, False)
        self.assertEqual((netlab.done, netlab.end), ([(b"GET", b"/", None)], "stopped"))
        self.assertEqual((theirs.heads, theirs.done, theirs.end), ([(b"GET", b"/")], [], "need-data"))

    def test_netlab_rejects_what_h11_tolerates(self):
        """
        Stricter on purpose (each allowed by RFC 9110/9112): these are 4xx
        or 505 here, requests for h11.
        """
        get = self.GET
        for data in [
            b"GET / HTTP/1.1\nHost: h\n\n",  # bare LF
            get + b"X: a\r\n b\r\n\r\n",  # obs-fold
            get + b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",  # CL + TE
            get + b"Content-Length: 1\r\nContent-Length: 1\r\n\r\nx",  # repeated CL
            get + b"Transfer-Encoding: chunked\r\n\r\n1 \r\nx\r\n0\r\n\r\n",  # chunk-size BWS
            get + b"Transfer-Encoding: chunked\r\n\r\n1;\x01\r\nx\r\n0\r\n\r\n",  # chunk-ext syntax
            get + b"X: a\x1cb\r\n\r\n",  # CTL in a value
            b"GET /a#b HTTP/1.1\r\nHost: h\r\n\r\n",  # fragment
            b"GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n",  # bad pct-encoding
            b"GET http://u@h/ HTTP/1.1\r\nHost: h\r\n\r\n",  # userinfo
            b"GET * HTTP/1.1\r\nHost: h\r\n\r\n",  # asterisk without OPTIONS
            b"GET / HTTP/1.1\r\nHost: a b\r\n\r\n",  # invalid Host
            b"GET / HTTP/2.0\r\nHost: h\r\n\r\n",  # other major version
            b"GET / HTTP/1.2\r\n\r\n",  # 1.x above 1.1 needs Host too
        ]:
            netlab, theirs = netlab_outcome(data, False), h11_outcome(data, False)
            self.assertEqual((netlab.done, netlab.end), ([], "rejected"), data)
            self.assertEqual(len(theirs.done), 1, data)
