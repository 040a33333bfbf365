"""
Lab: SMTP mail client (Kurose-Ross socket programming assignment 3,
SMTP Lab, with the optional STARTTLS/AUTH part), raw sockets and ssl (no
smtplib, as the lab asks).

Command line: python3 mail_no_dot_stuffing.py HOST PORT USER PASSWORD_FILE [IMAGE.png]
Sends one message from alice@example.com to bob@example.com, subject
"SMTP lab test", a short text body (one of its lines starts with "..."),
and the PNG file as an attachment when one is given.  PASSWORD_FILE holds
the password on its first line.  Trusts whatever certificate the server
shows (no verification).

Flaws: the message (headers, body, attachment) is built as a Python string
  with "\n" line ends and sent as it is: bare LF inside DATA, where SMTP
  requires CRLF (only the commands and the final "\r\n.\r\n" have CRLF);
  and lines that start with "." are not doubled (no dot-stuffing), so the
  server removes the first dot of "...and a line" (and a line holding a
  single "." would end the message early).  The dialogue itself is right:
  EHLO, STARTTLS, EHLO, AUTH PLAIN, MAIL, RCPT, DATA, QUIT, every reply read
  and checked, exit 1 on any 4xx/5xx (a server that refuses bare LF, as
  netlab-mailsink does with 554, therefore makes it exit 1).
"""
import base64
import os
import socket
import ssl
import sys
from email.utils import formatdate, make_msgid

SENDER = 'alice@example.com'
RECIPIENT = 'bob@example.com'
BODY = ('Hello Bob,\n'
        '\n'
        'this message was sent by my own SMTP client, over TLS.\n'
        '...and a line that starts with dots, to test the transparency rule.\n'
        '\n'
        'Alice\n')


class SMTPError(Exception):
    pass


class Client:
    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=30)
        self.file = self.sock.makefile('rb')

    def reply(self):
        lines = []
        while True:
            line = self.file.readline(2048)
            if not line:
                raise SMTPError('connection closed by the server')
            lines.append(line.decode('utf-8', 'replace').rstrip('\r\n'))
            if len(line) < 4 or line[3:4] != b'-':
                break
        print('S: ' + '\nS: '.join(lines))
        try:
            code = int(lines[-1][:3])
        except ValueError:
            raise SMTPError('not an SMTP reply: ' + lines[-1])
        return code, lines

    def command(self, text, expect, show=None):
        print('C: ' + (show or text))
        self.sock.sendall(text.encode() + b'\r\n')
        code, lines = self.reply()
        if code != expect and not (expect == 250 and code == 251):
            raise SMTPError('%s answered %s' % ((show or text).split()[0], lines[-1]))
        return lines

    def starttls(self, host):
        self.command('STARTTLS', 220)
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        self.sock = context.wrap_socket(self.sock, server_hostname=host)
        self.file = self.sock.makefile('rb')


def build_message(image):
    msg = 'From: Alice <%s>\n' % SENDER
    msg += 'To: Bob <%s>\n' % RECIPIENT
    msg += 'Subject: SMTP lab test\n'
    msg += 'Date: %s\n' % formatdate(localtime=True)
    msg += 'Message-ID: %s\n' % make_msgid(domain='example.com')
    msg += 'MIME-Version: 1.0\n'
    if image is None:
        msg += 'Content-Type: text/plain; charset=utf-8\n\n'
        return msg + BODY
    with open(image, 'rb') as f:
        data = base64.encodebytes(f.read()).decode('ascii')
    boundary = 'BOUNDARY-%s' % os.urandom(8).hex()
    msg += 'Content-Type: multipart/mixed; boundary="%s"\n\n' % boundary
    msg += '--%s\nContent-Type: text/plain; charset=utf-8\n\n%s\n' % (boundary, BODY)
    msg += '--%s\nContent-Type: image/png; name="%s"\n' % (boundary, os.path.basename(image))
    msg += 'Content-Transfer-Encoding: base64\n'
    msg += 'Content-Disposition: attachment; filename="%s"\n\n' % os.path.basename(image)
    msg += data
    msg += '--%s--\n' % boundary
    return msg


def main():
    if len(sys.argv) not in (5, 6):
        print('usage: mail_no_dot_stuffing.py HOST PORT USER PASSWORD_FILE [IMAGE.png]', file=sys.stderr)
        sys.exit(2)
    host, port, user, password_file = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    image = sys.argv[5] if len(sys.argv) == 6 else None
    with open(password_file) as f:
        password = f.readline().rstrip('\r\n')
    message = build_message(image)
    client = Client(host, port)
    try:
        code, lines = client.reply()
        if code != 220:
            raise SMTPError('greeting was ' + lines[-1])
        features = client.command('EHLO client.example.com', 250)
        if not any(line[4:].upper().startswith('STARTTLS') for line in features):
            raise SMTPError('the server does not offer STARTTLS; not sending the password in clear')
        client.starttls(host)
        client.command('EHLO client.example.com', 250)
        token = base64.b64encode(('\0%s\0%s' % (user, password)).encode()).decode()
        client.command('AUTH PLAIN ' + token, 235, show='AUTH PLAIN <credentials>')
        client.command('MAIL FROM:<%s>' % SENDER, 250)
        client.command('RCPT TO:<%s>' % RECIPIENT, 250)
        client.command('DATA', 354)
        client.sock.sendall(message.encode())
        client.sock.sendall(b'\r\n.\r\n')
        print('C: <message>')
        code, lines = client.reply()
        if code != 250:
            raise SMTPError('message refused: ' + lines[-1])
        client.command('QUIT', 221)
    except (SMTPError, OSError) as error:
        print('error: %s' % error, file=sys.stderr)
        try:
            client.sock.sendall(b'QUIT\r\n')
        except OSError:
            pass
        sys.exit(1)
    client.sock.close()
    print('Message sent')


main()
