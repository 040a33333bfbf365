"""
An SMTP server as a student writes it for a lab (standard library only,
one thread per connection), for the tests of ``netlab check smtp``.

Command line: python3 smtp_naive_server.py PORT      (binds 127.0.0.1)

Flaws, each one a checker case should find:
  - lines are split at LF alone, so ``<LF>.<LF>`` and ``<LF>.<CR><LF>``
    end DATA (SMTP smuggling); ``<CR>.<CR>`` does not;
  - no command order: MAIL before EHLO, RCPT after RSET, DATA without a
    recipient are all accepted;
  - VRFY confirms every mailbox with 250; a 5000-octet command is accepted;
  - EHLO offers no extensions (no STARTTLS), HELO answers in one line.
"""

import socket
import sys
import threading


def serve(connection):
    reader = connection.makefile("rb")

    def say(text):
        connection.sendall(text.encode() + b"\r\n")

    say("220 naive.example.com SMTP lab server")
    in_data = False
    for raw in reader:
        line = raw.decode("utf-8", "replace").rstrip("\r\n")
        if in_data:
            if line == ".":
                in_data = False
                say("250 OK message queued")
            continue
        verb = line.split(" ", 1)[0].upper()
        if verb in ("HELO", "EHLO"):
            say("250 naive.example.com Hello")
        elif verb in ("MAIL", "RCPT", "RSET", "NOOP"):
            say("250 OK")
        elif verb == "VRFY":
            say("250 <%s@naive.example.com>" % line[5:].strip())
        elif verb == "DATA":
            in_data = True
            say("354 End data with <CR><LF>.<CR><LF>")
        elif verb == "QUIT":
            say("221 Bye")
            break
        elif verb == "AUTH":
            say("502 Command not implemented")
        else:
            say("500 Unknown command")
    connection.close()


def main():
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", int(sys.argv[1])))
    server.listen(16)
    while True:
        connection, _ = server.accept()
        threading.Thread(target=serve, args=(connection,), daemon=True).start()


main()
