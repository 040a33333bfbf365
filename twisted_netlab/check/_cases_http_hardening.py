# -*- test-case-name: tests.check.test_cases_http -*-
"""
The pure hardening cases of ``netlab check http``: a slow head, a huge
head, a client that never reads, binary junk.  Each is a warn unless it
is a real break (another client starved, the server dead: the runner
blames the case during which it died).
"""

from __future__ import annotations

from typing import List, Tuple

from twisted_netlab.check._case import (
    Await,
    Case,
    Context,
    Outcome,
    Pause,
    Profile,
    Recording,
    Send,
    StopReading,
    Stream,
    failed,
    passed,
    warned,
)
from twisted_netlab.check._cases_http import (
    BINARY,
    FILES,
    SMALL,
    anything,
    answered,
    first,
    request,
    shown,
    silence,
    url,
)
from twisted_netlab.check._cases_http_rfc import target

HARDENING = Profile.HARDENING


def _slowloris_plan(context: Context) -> Tuple[Stream, ...]:
    data = request(context, target(context))
    dribble_seconds = max(2.0, context.timeout_seconds - 1.0)
    steps: List = []
    for index in range(int(dribble_seconds / 0.5)):
        steps += [Send(data[index:index + 1]), Pause(0.5)]
    other = Stream((Pause(0.8), Send(request(context, target(context))),
                    Await(answered(["GET"]), dribble_seconds - 1.0)), "another client")
    return (Stream(tuple(steps), "slow client"), other)


def _slowloris_judge(recording: Recording, context: Context) -> Outcome:
    slow, other = recording.streams
    response = first(other)
    if response is None:
        return failed(f"while one client dribbled its head, another got {silence(other, context.timeout_seconds)}")
    closed = slow.first_closed_at()
    if closed is not None:
        return passed(f"the other client was served; the slow head was cut off after {closed:.1f}s")
    sent = len(slow.sent)
    return warned(f"the other client was served, but a head dribbled at 2 bytes/s was still accepted after "
                  f"{sent} bytes ({sent / 2:.1f}s): no head time-out that short")


def _huge_plan(context: Context) -> Tuple[Stream, ...]:
    head = request(context, target(context))[:-2]
    filler = b"".join(b"X-Fill-%06d: %s\r\n" % (i, b"a" * 1000) for i in range(10 * 1024))
    return (Stream((Send(head + filler + b"\r\n"), Await(anything, context.timeout_seconds))),)


def _huge_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    response = first(stream)
    if response is not None and response.status is not None:
        if response.status in (400, 413, 431, 414):
            return passed(f"{shown(response)} for 10 MB of header fields")
        return warned(f"{shown(response)}: it read 10 MB of header fields without a limit")
    if stream.peer_closed:
        return passed("closed the connection during 10 MB of header fields")
    return warned(f"no answer to 10 MB of header fields within {context.timeout_seconds:g}s, connection still open")


def _no_reader_plan(context: Context) -> Tuple[Stream, ...]:
    hold = max(2.0, context.timeout_seconds - 1.0)
    stuck = Stream((Send(request(context, url(context, BINARY))), StopReading(), Pause(hold)), "client that never reads")
    other = Stream((Pause(0.5), Send(request(context, url(context, SMALL))),
                    Await(answered(["GET"]), hold - 1.0)), "another client", ends_case=True)
    return (stuck, other)


def _no_reader_judge(recording: Recording, context: Context) -> Outcome:
    other = recording.streams[1]
    response = first(other)
    if response is None or not response.complete:
        return failed("while one client did not read its 3 MB response, another got "
                      + silence(other, context.timeout_seconds))
    return passed("another client was served while one did not read its 3 MB response")


def _garbage_plan(context: Context) -> Tuple[Stream, ...]:
    junk = bytes((i * 37 + 11) % 256 for i in range(4096))
    return (Stream((Send(junk + b"\r\n\r\n"), Await(anything, min(2.0, context.timeout_seconds)))),)


def _garbage_judge(recording: Recording, context: Context) -> Outcome:
    stream = recording.streams[0]
    response = first(stream)
    if response is not None and response.status is not None:
        if 400 <= response.status < 500:
            return passed(f"{shown(response)} for 4 KB of binary junk")
        return warned(f"{shown(response)} for 4 KB of binary junk")
    if stream.peer_closed:
        return passed("closed the connection on binary junk")
    return warned("no answer and no close for 4 KB of binary junk")


HARDENING_CASES: List[Case] = [
    Case("hardening.slowloris", "a head dribbled slowly is cut off; others are served meanwhile", "hardening",
         HARDENING, _slowloris_plan, _slowloris_judge),
    Case("hardening.huge-head", "10 MB of header fields are refused", "hardening", HARDENING,
         _huge_plan, _huge_judge),
    Case("hardening.no-reader", "a client that never reads does not block others", "hardening", HARDENING,
         _no_reader_plan, _no_reader_judge, frozenset([FILES])),
    Case("hardening.garbage", "binary junk gets 400 or a close", "hardening", HARDENING,
         _garbage_plan, _garbage_judge),
]

