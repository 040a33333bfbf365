# -*- test-case-name: tests.check.test_smtp_server -*-
"""
The pure cases of ``netlab check smtp``: what to say to an SMTP server
(RFC 5321, STARTTLS RFC 3207, AUTH RFC 4954, SIZE/8BITMIME/SMTPUTF8) and
how to judge the replies that came.  Standard library only.

Each case is one dialogue (a L{Stream}, built by L{_smtp_dialogue}): wait
for the greeting, then each command followed by an L{Await} for one more
reply, so that a judge can pair reply I{n} with command I{n}.  Cases that need something of the server
(STARTTLS offered, SIZE, ``--send``) name it in C{needs}; the adapter learns
the server's EHLO keywords first and skips what cannot run, with the reason.
Only addresses under the context's C{domain} are ever used, and a message is
submitted only by the cases that need C{SEND}.
"""

from __future__ import annotations

import base64
from typing import Callable, List, Optional, Sequence, Tuple

from twisted_netlab.check._case import (
    Await,
    Case,
    Context,
    EntryKind,
    Outcome,
    Pause,
    Profile,
    Recording,
    Send,
    StartTLS,
    Stream,
    StreamRecord,
    failed,
    passed,
    skipped,
    warned,
)
from twisted_netlab.check._smtp_dialogue import (
    Reply,
    dialogue,
    ehlo_line,
    features,
    keyword,
    missing,
    offset,
    only_stream,
    parse_replies,
    recipient,
    replies_in,
    replies_seen,
    reply_at,
    says,
    sender,
)

#: Fixture-like names a case may need (see L{Case.needs}).
SEND = "send"
STARTTLS = "starttls"
SIZE = "size"
EIGHTBITMIME = "8bitmime"
SMTPUTF8 = "smtputf8"

#: How long a smuggling or transparency case waits for a reply that must
#: not come (the server ending DATA too early).
PREMATURE_WAIT_SECONDS = 0.7


# -- plans and judges, one pair per case ---------------------------------------


def _plan_greeting(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [b"QUIT\r\n"]),)


def _judge_greeting(recording: Recording, context: Context) -> Outcome:
    greeting = reply_at(recording, 0, context)
    if greeting is None:
        return missing(recording, "the greeting")
    if greeting.code == 220:
        return passed(f"greeting {says(greeting)}")
    if greeting.code == 554:
        return warned(f"the server refuses this client with 554: {says(greeting)}")
    return failed(f"expected a 220 greeting, got {says(greeting)}")


def _plan_ehlo(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [ehlo_line(context), b"QUIT\r\n"]),)


def _judge_ehlo(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 1, context)
    if reply is None:
        return missing(recording, "the EHLO reply")
    if reply.code == 250:
        offered = " ".join(word.split(" ")[0] for word in features(reply)) or "no extensions"
        return passed(f"250 to EHLO, offering {offered}")
    return failed(f"expected 250 to EHLO, got {says(reply)}")


def _plan_helo(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [b"HELO checker." + context.extra.get("domain", "example.com").encode() + b"\r\n", b"QUIT\r\n"], login=False),)


def _judge_helo(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 1, context, login=False)
    if reply is None:
        return missing(recording, "the HELO reply")
    if reply.code == 250 and len(reply.lines) == 1:
        return passed(f"250 to HELO: {says(reply)}")
    if reply.code == 250:
        return warned(f"250 to HELO but in {len(reply.lines)} lines (HELO gets no extension list)")
    return failed(f"expected 250 to HELO, got {says(reply)}")


def _plan_unknown(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [ehlo_line(context), b"XYZZY netlab\r\n", b"NOOP\r\n", b"QUIT\r\n"]),)


def _judge_unknown(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 2, context)
    if reply is None:
        return missing(recording, "the reply to an unknown command")
    if reply.code in (500, 502):
        after = reply_at(recording, 3, context)
        if after is None or after.code != 250:
            return warned(f"{reply.code} to an unknown command, but the session was not usable after it (NOOP: {after.text if after else 'no reply'})")
        return passed(f"{reply.code} to XYZZY, and the session goes on")
    if reply.code is not None and 500 <= reply.code < 600:
        return warned(f"refused with {reply.code}, where 500 (unrecognized) is the code: {says(reply)}")
    return failed(f"expected 500 or 502 to an unknown command, got {says(reply)}")


def _plan_mail_before_ehlo(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [b"MAIL FROM:<" + sender(context).encode() + b">\r\n", b"QUIT\r\n"], login=False),)


def _judge_mail_before_ehlo(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 1, context, login=False)
    if reply is None:
        return missing(recording, "the reply to MAIL before EHLO")
    if reply.code == 503:
        return passed(f"503 to MAIL before EHLO: {says(reply)}")
    if reply.code is not None and 500 <= reply.code < 600:
        return warned(f"refused, but with {reply.code} instead of 503 (bad sequence): {says(reply)}")
    if reply.code == 250:
        return warned("MAIL accepted before EHLO/HELO (a client MUST greet first; most servers answer 503)")
    return failed(f"expected 503 to MAIL before EHLO, got {says(reply)}")


def _quit_or_end_data(received: Tuple[bytes, ...]) -> bytes:
    # A server that wrongly answered 354 takes what follows as the message:
    # end that empty message first, so QUIT is not swallowed as data.
    replies = parse_replies(received[0])
    return b".\r\nQUIT\r\n" if replies and replies[-1].code == 354 else b"QUIT\r\n"


def _plan_data_before_rcpt(context: Context) -> Tuple[Stream, ...]:
    stream = dialogue(context, [ehlo_line(context), b"MAIL FROM:<" + sender(context).encode() + b">\r\n", b"DATA\r\n"])
    quit_answered = lambda received, closed: closed or any(r.code == 221 for r in parse_replies(received))  # noqa: E731
    return (Stream(stream.steps + (Send(_quit_or_end_data), Await(quit_answered, context.timeout_seconds))),)


def _judge_data_before_rcpt(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 3, context)
    if reply is None:
        return missing(recording, "the reply to DATA without RCPT")
    if reply.code in (503, 554):
        return passed(f"{reply.code} to DATA without a recipient: {says(reply)}")
    if reply.code == 354:
        return failed("354: the server takes a message that has no recipient (RFC 5321 §3.3: 503 or 554)")
    if reply.code == 530:
        return skipped(f"the server wants AUTH before a transaction: {says(reply)}")
    if reply.code is not None and 500 <= reply.code < 600:
        return warned(f"refused with {reply.code} where 503 or 554 is expected: {says(reply)}")
    return failed(f"expected 503 or 554 to DATA without RCPT, got {says(reply)}")


def _plan_rset(context: Context) -> Tuple[Stream, ...]:
    mail = b"MAIL FROM:<" + sender(context).encode() + b">\r\n"
    rcpt = b"RCPT TO:<" + recipient(context).encode() + b">\r\n"
    return (dialogue(context, [ehlo_line(context), mail, b"RSET\r\n", rcpt, b"QUIT\r\n"]),)


def _judge_rset(recording: Recording, context: Context) -> Outcome:
    mail, rset, rcpt = (reply_at(recording, i, context) for i in (2, 3, 4))
    if rset is None or rcpt is None:
        return missing(recording, "the replies to RSET and RCPT")
    if rset.code != 250:
        return failed(f"expected 250 to RSET, got {says(rset)}")
    if mail is not None and mail.code == 250 and rcpt.code in (250, 251):
        return failed("RCPT was accepted after RSET: the transaction MAIL began was not cleared")
    if mail is None or mail.code != 250:
        return passed(f"250 to RSET (MAIL was refused, {mail.text if mail else 'no reply'}: clearing not observable)")
    return passed(f"250 to RSET, and RCPT after it is refused ({rcpt.code}): the transaction was cleared")


def _plan_noop(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [ehlo_line(context), b"NOOP\r\n", b"QUIT\r\n"]),)


def _judge_noop(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 2, context)
    if reply is None:
        return missing(recording, "the reply to NOOP")
    if reply.code == 250:
        return passed("250 to NOOP")
    return failed(f"expected 250 to NOOP, got {says(reply)}")


def _plan_vrfy(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [ehlo_line(context), b"VRFY postmaster\r\n", b"QUIT\r\n"]),)


def _judge_vrfy(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 2, context)
    if reply is None:
        return missing(recording, "the reply to VRFY")
    if reply.code in (252, 502, 550, 551, 553):
        return passed(f"{reply.code} to VRFY (no user list disclosed): {says(reply)}")
    if reply.code in (250, 251):
        return warned(f"{reply.code} to VRFY: the server confirms mailboxes (user enumeration); 252 or 502 is usual")
    if reply.code == 530:
        return skipped(f"the server wants AUTH before VRFY: {says(reply)}")
    if reply.code == 500:
        return warned(f"{reply.code} to VRFY (RFC 5321 §3.5.3 expects 252, 502 or an answer)")
    return failed(f"expected 252 or 502 to VRFY, got {says(reply)}")


def _plan_line_length(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [ehlo_line(context), b"NOOP " + b"x" * 5000 + b"\r\n", b"NOOP\r\n", b"QUIT\r\n"]),)


def _judge_line_length(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 2, context)
    if reply is None:
        stream = only_stream(recording)
        if stream.peer_closed and len(replies_in(recording)) >= 2:
            return warned("the server closed the connection without a reply to a 5007-octet command line")
        return missing(recording, "the reply to a 5007-octet command line")
    if reply.code is not None and 500 <= reply.code < 600:
        return passed(f"{reply.code} to a 5007-octet command line (limit 512): {says(reply)}")
    if reply.code == 250:
        return warned("a 5007-octet command line was accepted (RFC 5321 §4.5.3.1.4: 512 octets; 500 expected)")
    return failed(f"expected 500 to an over-long command line, got {says(reply)}")


def _plan_quit(context: Context) -> Tuple[Stream, ...]:
    stream = dialogue(context, [ehlo_line(context), b"QUIT\r\n"])
    # After QUIT's reply, wait for the close (the server closes, RFC 5321 §4.1.1.10).
    return (Stream(stream.steps + (Await(lambda received, closed: closed, context.timeout_seconds),)),)


def _judge_quit(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 2, context)
    if reply is None:
        return missing(recording, "the reply to QUIT")
    if reply.code != 221:
        return failed(f"expected 221 to QUIT, got {says(reply)}")
    if not only_stream(recording).peer_closed:
        return warned("221 to QUIT, but the server did not close the connection")
    return passed("221 to QUIT, then the server closed the connection")


# -- a message transaction (needs --send) ------------------------------------------


def _message(context: Context, subject: str, body: bytes) -> bytes:
    head = (
        f"From: <{sender(context)}>\r\nTo: <{recipient(context)}>\r\nSubject: {subject}\r\n"
        f"Message-ID: <{subject.replace(' ', '-')}.{context.extra.get('token', 'x')}@{context.extra.get('domain', 'example.com')}>\r\n\r\n"
    ).encode("ascii")
    return head + body


def _transaction(context: Context, data_steps: Sequence[object]) -> Tuple[Stream, ...]:
    mail = b"MAIL FROM:<" + sender(context).encode() + b">\r\n"
    rcpt = b"RCPT TO:<" + recipient(context).encode() + b">\r\n"
    # Replies: 0 greeting, 1 EHLO, 2 MAIL, 3 RCPT, 4 DATA (354), 5 end of data, 6 QUIT.
    return (dialogue(context, [ehlo_line(context), mail, rcpt, b"DATA\r\n", *data_steps, b"QUIT\r\n"]),)


def _transaction_refused(recording: Recording, context: Context) -> Optional[Outcome]:
    """
    A skip when the server refused the envelope (so the DATA phase never
    ran), or L{None} when DATA got its 354.
    """
    for index, what in ((2, "MAIL FROM"), (3, "RCPT TO"), (4, "DATA")):
        reply = reply_at(recording, index, context)
        if reply is None:
            return missing(recording, f"the reply to {what}")
        expected = 354 if what == "DATA" else 250
        if reply.code != expected and not (what == "RCPT TO" and reply.code == 251):
            return skipped(f"{what} was refused ({reply.text}): the DATA phase could not be tried (use --domain for a domain it accepts)")
    return None


def _premature(recording: Recording, context: Context) -> Optional[Reply]:
    """
    A reply that came after the 354 and before the checker sent the real
    end of data (its own ``.`` line, after a message ending in CRLF).
    """
    entries = only_stream(recording).entries
    seen = bytearray()
    counted_before = None
    for entry in entries:
        if entry.kind is EntryKind.SENT and entry.data == b".\r\n":
            counted_before = len(parse_replies(bytes(seen)))
            break
        if entry.kind is EntryKind.RECEIVED:
            seen += entry.data
    if counted_before is None:
        counted_before = len(parse_replies(bytes(seen)))
    index = 5 + offset(context)
    if counted_before > index:
        return parse_replies(bytes(seen))[index]
    return None


def _plan_transparency(context: Context) -> Tuple[Stream, ...]:
    # RFC 5321 §4.5.2: a line that starts with "." is sent with one more dot;
    # the body holds a stuffed lone dot, which must not end the message.
    body = b"line one\r\n..\r\n...leading dots\r\nlast line\r\n"
    message = _message(context, "netlab check transparency", body)
    return _transaction(
        context,
        [Send(message), Await(replies_seen(6 + offset(context)), PREMATURE_WAIT_SECONDS), b".\r\n"],
    )


def _judge_transparency(recording: Recording, context: Context) -> Outcome:
    refused = _transaction_refused(recording, context)
    if refused is not None:
        return refused
    early = _premature(recording, context)
    if early is not None:
        return failed(f"the server ended the message at the stuffed lone dot (\"..\") and answered {says(early)}")
    end = reply_at(recording, 5, context)
    if end is None:
        return missing(recording, "the reply to the end of data")
    if end.code == 250:
        return passed("a message with dot-stuffed lines was taken whole and accepted with 250")
    return warned(f"the message with stuffed dots was refused at its end: {says(end)}")


_SMUGGLING = {
    "lf": (b"\n.\n", "<LF>.<LF>"),
    "cr": (b"\r.\r", "<CR>.<CR>"),
    "lf-crlf": (b"\n.\r\n", "<LF>.<CR><LF>"),
}


def _plan_smuggling(variant: str) -> Callable[[Context], Tuple[Stream, ...]]:
    sequence, _ = _SMUGGLING[variant]

    def plan(context: Context) -> Tuple[Stream, ...]:
        body = b"first line\r\nbefore" + sequence + b"NOOP\r\nafter\r\n"
        message = _message(context, f"netlab check smuggling {variant}", body)
        return _transaction(
            context,
            [Send(message), Await(replies_seen(6 + offset(context)), PREMATURE_WAIT_SECONDS), b".\r\n"],
        )

    return plan


def _judge_smuggling(variant: str) -> Callable[[Recording, Context], Outcome]:
    _, shown = _SMUGGLING[variant]

    def judge(recording: Recording, context: Context) -> Outcome:
        refused = _transaction_refused(recording, context)
        if refused is not None:
            return refused
        early = _premature(recording, context)
        if early is not None:
            return failed(f"{shown} ended DATA: the server answered {says(early)} before the real <CR><LF>.<CR><LF> (SMTP smuggling)")
        end = reply_at(recording, 5, context)
        if end is None:
            if only_stream(recording).peer_closed:
                return passed(f"the server closed the connection on {shown} inside DATA (never taken as the end)")
            return missing(recording, "the reply to the end of data")
        if end.code == 250:
            return passed(f"{shown} was kept as message data; only <CR><LF>.<CR><LF> ended it")
        return passed(f"the message holding {shown} was refused at its real end ({end.code}): never taken as the end")

    return judge


# -- STARTTLS and AUTH -------------------------------------------------------


def _plan_starttls_offered(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [ehlo_line(context), b"QUIT\r\n"], clear=True),)


def _judge_starttls_offered(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 1)
    if reply is None or reply.code != 250:
        return missing(recording, "a 250 reply to EHLO")
    if keyword(features(reply), "STARTTLS") is not None:
        return passed("STARTTLS is offered")
    return warned("STARTTLS is not offered: mail and passwords can only cross in clear (RFC 3207)")


def _plan_injection(context: Context) -> Tuple[Stream, ...]:
    # CVE-2011-0411: plaintext pipelined after STARTTLS must be discarded,
    # not answered once TLS is up.
    return (
        Stream(
            (
                Await(replies_seen(1), context.timeout_seconds),
                Send(ehlo_line(context)),
                Await(replies_seen(2), context.timeout_seconds),
                Send(b"STARTTLS\r\nNOOP\r\n"),
                Await(replies_seen(3), context.timeout_seconds),
                StartTLS(),
                Pause(PREMATURE_WAIT_SECONDS),
                Send(ehlo_line(context)),
                Await(replies_seen(4), context.timeout_seconds),
                Send(b"QUIT\r\n"),
                Await(lambda received, closed: closed, context.timeout_seconds),
            )
        ),
    )


def _after_tls(stream: StreamRecord) -> Tuple[bytes, bytes, bytes]:
    """
    The bytes received in clear, then over TLS before the checker's next
    command, then after it.
    """
    clear, early, late = bytearray(), bytearray(), bytearray()
    phase = 0
    for entry in stream.entries:
        if entry.kind is EntryKind.TLS_STARTED:
            phase = 1
        elif entry.kind is EntryKind.SENT and phase == 1:
            phase = 2
        elif entry.kind is EntryKind.RECEIVED:
            (clear, early, late)[phase].extend(entry.data)
    return bytes(clear), bytes(early), bytes(late)


def _judge_injection(recording: Recording, context: Context) -> Outcome:
    stream = only_stream(recording)
    clear, early, late = _after_tls(stream)
    replies = parse_replies(clear)
    if len(replies) < 3:
        return missing(recording, "the reply to STARTTLS")
    if replies[2].code != 220:
        if replies[2].code is not None and 500 <= replies[2].code < 600:
            return passed(f"STARTTLS with a command pipelined after it was refused: {says(replies[2])}")
        return failed(f"expected 220 to STARTTLS, got {says(replies[2])}")
    if len(replies) > 3:
        return failed(f"the pipelined NOOP was answered in clear after the 220: {says(replies[3])}")
    if parse_replies(early):
        return failed(f"the NOOP sent in clear before the TLS handshake was answered inside TLS: {says(parse_replies(early)[0])} (CVE-2011-0411)")
    after = parse_replies(late)
    if not after:
        if stream.peer_closed and not early and not late:
            return passed("the server dropped the connection on plaintext pipelined after STARTTLS")
        return warned("nothing was answered over TLS (the handshake may have failed): injection not observable")
    return passed(f"the pipelined NOOP was discarded; over TLS the first reply is to EHLO ({after[0].code})")


def _plan_tls_resets(context: Context) -> Tuple[Stream, ...]:
    return (
        dialogue(
            context,
            [ehlo_line(context), b"STARTTLS\r\n", StartTLS(), b"MAIL FROM:<" + sender(context).encode() + b">\r\n", b"QUIT\r\n"],
            clear=True,
        ),
    )


def _judge_tls_resets(recording: Recording, context: Context) -> Outcome:
    start = reply_at(recording, 2)
    if start is None:
        return missing(recording, "the reply to STARTTLS")
    if start.code != 220:
        return failed(f"expected 220 to STARTTLS, got {says(start)}")
    mail = reply_at(recording, 3)
    if mail is None:
        return missing(recording, "a reply over TLS (did the handshake fail?)")
    if mail.code == 503:
        return passed("503 to MAIL over TLS before a new EHLO: the state of the clear session was discarded")
    if mail.code == 250:
        return failed("MAIL over TLS without a new EHLO was accepted: the state of the clear session was kept (RFC 3207 §4.2)")
    return warned(f"MAIL over TLS before EHLO got {mail.code}, not 503: {says(mail)}")


_BOGUS_PLAIN = base64.b64encode(b"\0netlab-check\0not-a-password").decode("ascii").encode("ascii")


def _plan_auth_clear(context: Context) -> Tuple[Stream, ...]:
    return (dialogue(context, [ehlo_line(context), b"AUTH PLAIN " + _BOGUS_PLAIN + b"\r\n", b"QUIT\r\n"], clear=True),)


def _judge_auth_clear(recording: Recording, context: Context) -> Outcome:
    ehlo, auth = reply_at(recording, 1), reply_at(recording, 2)
    if ehlo is None or auth is None:
        return missing(recording, "the replies to EHLO and AUTH")
    offered = keyword(features(ehlo), "AUTH")
    if auth.code == 235:
        return failed("AUTH PLAIN with made-up credentials sent in clear was accepted (235)")
    if auth.code in (535, 334):
        return warned(f"credentials are taken in clear ({auth.code} to AUTH PLAIN before STARTTLS; RFC 4954 §4 wants 538 or no AUTH before TLS)")
    if offered is not None and any(m in offered.split() for m in ("PLAIN", "LOGIN")):
        return warned(f"AUTH {offered} is offered before STARTTLS (passwords may cross in clear)")
    return passed(f"AUTH is not usable in clear: {auth.code} to AUTH PLAIN before TLS")


def _plan_mail_option(option: bytes) -> Callable[[Context], Tuple[Stream, ...]]:
    def plan(context: Context) -> Tuple[Stream, ...]:
        value = option
        if option == b"SIZE":
            limit = int(context.extra.get("size_limit", 0))
            value = b"SIZE=%d" % (limit + 1)
        mail = b"MAIL FROM:<" + sender(context).encode() + b"> " + value + b"\r\n"
        return (dialogue(context, [ehlo_line(context), mail, b"QUIT\r\n"]),)

    return plan


def _judge_size(recording: Recording, context: Context) -> Outcome:
    reply = reply_at(recording, 2, context)
    limit = int(context.extra.get("size_limit", 0))
    if reply is None:
        return missing(recording, "the reply to MAIL FROM with SIZE")
    if reply.code == 552:
        return passed(f"552 to MAIL FROM SIZE={limit + 1} (the announced limit is {limit})")
    if reply.code in (530, 550, 553):
        return skipped(f"MAIL FROM was refused for another reason: {says(reply)}")
    if reply.code == 250:
        return failed(f"MAIL FROM SIZE={limit + 1} was accepted although EHLO announced SIZE {limit} (RFC 1870 §6: 552)")
    return warned(f"MAIL FROM SIZE over the limit got {reply.code} (552 expected): {says(reply)}")


def _judge_option(name: str) -> Callable[[Recording, Context], Outcome]:
    def judge(recording: Recording, context: Context) -> Outcome:
        reply = reply_at(recording, 2, context)
        if reply is None:
            return missing(recording, f"the reply to MAIL FROM with {name}")
        if reply.code == 250:
            return passed(f"MAIL FROM with {name} (offered in EHLO) was accepted")
        if reply.code in (530, 550, 553):
            return skipped(f"MAIL FROM was refused for another reason: {says(reply)}")
        return failed(f"{name} is offered in EHLO but MAIL FROM with it got {says(reply)}")

    return judge


def all_cases() -> List[Case]:
    """
    Every case of ``netlab check smtp``, in report order.
    """
    lab, rfc, hard = Profile.LAB, Profile.RFC, Profile.HARDENING
    return [
        Case("smtp.greeting", "greeting is 220", "RFC 5321 §3.1", lab, _plan_greeting, _judge_greeting),
        Case("smtp.ehlo", "EHLO gets 250 with the extensions", "RFC 5321 §4.1.1.1", lab, _plan_ehlo, _judge_ehlo),
        Case("smtp.helo", "HELO gets 250", "RFC 5321 §4.1.1.1", lab, _plan_helo, _judge_helo),
        Case("smtp.unknown-command", "an unknown command gets 500/502", "RFC 5321 §4.2.4", lab, _plan_unknown, _judge_unknown),
        Case("smtp.order.mail-before-ehlo", "MAIL before EHLO gets 503", "RFC 5321 §4.1.4", rfc, _plan_mail_before_ehlo, _judge_mail_before_ehlo),
        Case("smtp.order.data-before-rcpt", "DATA before RCPT gets 503", "RFC 5321 §3.3", lab, _plan_data_before_rcpt, _judge_data_before_rcpt),
        Case("smtp.rset", "RSET gets 250 and clears the transaction", "RFC 5321 §4.1.1.5", rfc, _plan_rset, _judge_rset),
        Case("smtp.noop", "NOOP gets 250", "RFC 5321 §4.1.1.9", rfc, _plan_noop, _judge_noop),
        Case("smtp.vrfy", "VRFY gets 252 or 502", "RFC 5321 §3.5.3", rfc, _plan_vrfy, _judge_vrfy),
        Case("smtp.line-length", "a command line over 512 octets is refused", "RFC 5321 §4.5.3.1.4", hard, _plan_line_length, _judge_line_length),
        Case("smtp.quit", "QUIT gets 221 and a close", "RFC 5321 §4.1.1.10", lab, _plan_quit, _judge_quit),
        Case("smtp.data.transparency", "dot-stuffed lines are data, only CRLF.CRLF ends", "RFC 5321 §4.5.2", lab, _plan_transparency, _judge_transparency, frozenset([SEND])),
        Case("smtp.smuggling.lf", "<LF>.<LF> does not end DATA", "RFC 5321 §4.1.1.4", hard, _plan_smuggling("lf"), _judge_smuggling("lf"), frozenset([SEND])),
        Case("smtp.smuggling.cr", "<CR>.<CR> does not end DATA", "RFC 5321 §4.1.1.4", hard, _plan_smuggling("cr"), _judge_smuggling("cr"), frozenset([SEND])),
        Case("smtp.smuggling.lf-crlf", "<LF>.<CR><LF> does not end DATA", "RFC 5321 §4.1.1.4", hard, _plan_smuggling("lf-crlf"), _judge_smuggling("lf-crlf"), frozenset([SEND])),
        Case("smtp.starttls.offered", "STARTTLS is offered", "RFC 3207 §4", rfc, _plan_starttls_offered, _judge_starttls_offered),
        Case("smtp.starttls.injection", "plaintext pipelined after STARTTLS is discarded", "RFC 3207 §4.2", hard, _plan_injection, _judge_injection, frozenset([STARTTLS])),
        Case("smtp.starttls.resets-state", "after STARTTLS the session starts over", "RFC 3207 §4.2", rfc, _plan_tls_resets, _judge_tls_resets, frozenset([STARTTLS])),
        Case("smtp.auth.not-in-clear", "AUTH is not usable before TLS", "RFC 4954 §4", hard, _plan_auth_clear, _judge_auth_clear),
        Case("smtp.size.enforced", "MAIL over the SIZE limit gets 552", "RFC 1870 §6", rfc, _plan_mail_option(b"SIZE"), _judge_size, frozenset([SIZE])),
        Case("smtp.8bitmime", "BODY=8BITMIME accepted when offered", "RFC 6152 §3", rfc, _plan_mail_option(b"BODY=8BITMIME"), _judge_option("BODY=8BITMIME"), frozenset([EIGHTBITMIME])),
        Case("smtp.smtputf8", "SMTPUTF8 accepted when offered", "RFC 6531 §3.4", rfc, _plan_mail_option(b"SMTPUTF8"), _judge_option("SMTPUTF8"), frozenset([SMTPUTF8])),
    ]


#: Why a case cannot run, per missing need.
NEEDS_TEXT = {
    SEND: "submits a message (to addresses under --domain): give --send",
    STARTTLS: "the server does not offer STARTTLS",
    SIZE: "the server does not announce a SIZE limit",
    EIGHTBITMIME: "the server does not offer 8BITMIME",
    SMTPUTF8: "the server does not offer SMTPUTF8",
}


def available_from(ehlo: Optional[Reply], send: bool) -> Tuple[frozenset, int]:
    """
    The needs the server meets, from its EHLO reply (and C{--send}), and
    the SIZE limit it announced (0: none).
    """
    have = set()
    if send:
        have.add(SEND)
    size_limit = 0
    if ehlo is not None and ehlo.code == 250:
        found = features(ehlo)
        if keyword(found, "STARTTLS") is not None:
            have.add(STARTTLS)
        size = keyword(found, "SIZE")
        if size is not None and size.isdigit() and int(size) > 0:
            have.add(SIZE)
            size_limit = int(size)
        if keyword(found, "8BITMIME") is not None:
            have.add(EIGHTBITMIME)
        if keyword(found, "SMTPUTF8") is not None:
            have.add(SMTPUTF8)
    return frozenset(have), size_limit


__all__ = ["Reply", "all_cases", "available_from", "features", "keyword", "parse_replies", "replies_seen", "NEEDS_TEXT"]
