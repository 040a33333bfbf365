"""
Lab: SMTP mail client (Kurose-Ross socket programming assignment 3,
SMTP Lab, with the optional STARTTLS/AUTH part), done right with raw
sockets and ssl (no smtplib, as the lab asks).

Command line: python3 mail_good.py HOST PORT USER PASSWORD_FILE [IMAGE.png]
Sends one message from alice@example.com to bob@example.com, subject
"SMTP lab test", a short text body (one of its lines starts with a dot),
and the PNG file as an attachment when one is given.  PASSWORD_FILE holds
the password on its first line.  Like most students it trusts whatever
certificate the server shows (no verification).

Correct: reads the whole (multi-line) reply to every command before the
next one; EHLO, STARTTLS, EHLO again over TLS, AUTH PLAIN, MAIL FROM,
RCPT TO, DATA with dot-stuffing and CRLF line ends, QUIT.  Any 4xx or 5xx
reply (or a server without STARTTLS) ends it with a message on stderr,
QUIT and exit status 1; "Message sent" and exit status 0 only when the
server accepted the message.
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
    headers = ['From: Alice <%s>' % SENDER, 'To: Bob <%s>' % RECIPIENT, 'Subject: SMTP lab test',
               'Date: ' + formatdate(localtime=True), 'Message-ID: ' + make_msgid(domain='example.com'),
               'MIME-Version: 1.0']
    text = BODY.replace('\n', '\r\n')
    if image is None:
        headers.append('Content-Type: text/plain; charset=utf-8')
        return '\r\n'.join(headers) + '\r\n\r\n' + text
    with open(image, 'rb') as f:
        data = base64.encodebytes(f.read()).decode('ascii').replace('\n', '\r\n')
    boundary = '=====lab-boundary-%s=====' % os.urandom(8).hex()
    headers.append('Content-Type: multipart/mixed; boundary="%s"' % boundary)
    parts = ['--' + boundary, 'Content-Type: text/plain; charset=utf-8', '', text,
             '--' + boundary,
             'Content-Type: image/png; name="%s"' % os.path.basename(image),
             'Content-Transfer-Encoding: base64',
             'Content-Disposition: attachment; filename="%s"' % os.path.basename(image), '',
             data, '--' + boundary + '--', '']
    return '\r\n'.join(headers) + '\r\n\r\n' + '\r\n'.join(parts)


def dot_stuff(message):
    lines = message.split('\r\n')
    return '\r\n'.join('.' + line if line.startswith('.') else line for line in lines)


def main():
    if len(sys.argv) not in (5, 6):
        print('usage: mail_good.py HOST PORT USER PASSWORD_FILE [IMAGE.png]', file=sys.stderr)
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
        client.sock.sendall((dot_stuff(message).rstrip('\r\n') + '\r\n.\r\n').encode())
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
