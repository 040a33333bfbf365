"""
Lab: SMTP mail client (Kurose-Ross socket programming assignment 3,
SMTP Lab, with the optional STARTTLS/AUTH part), written from the
handout's skeleton: raw sockets and ssl (no smtplib), each reply read
(recv until its last line has arrived) and printed.

Command line: python3 mail_ignores_450.py HOST PORT USER PASSWORD_FILE [IMAGE.png]
Sends one message from alice@example.com to bob@example.com, subject
"SMTP lab test", a short text body, and the PNG file as an attachment when
one is given.  PASSWORD_FILE holds the password on its first line.  Trusts
whatever certificate the server shows (no verification).  EHLO, STARTTLS,
EHLO, AUTH PLAIN (the replies to these are checked: 220/250/220/250/235,
else exit 1), then MAIL FROM, RCPT TO, DATA, the message (dot-stuffed, CRLF
line ends), ".", QUIT.

Flaw: the replies of the mail transaction (MAIL, RCPT, DATA, the end of the
  message, QUIT) are read and printed but never checked, and a connection
  error after the login is printed and ignored.  After "450 mailbox
  unavailable" on RCPT TO (and the refusal of DATA that follows) it still
  sends the message, prints "Mail sent!" and exits 0.
"""
import base64
import os
import ssl
import sys
from socket import *

mailserver = (sys.argv[1], int(sys.argv[2]))
username = sys.argv[3]
password = open(sys.argv[4]).readline().strip()
image = sys.argv[5] if len(sys.argv) > 5 else None

msg = '\r\nHello Bob,\r\n\r\nI love computer networks!\r\n'
endmsg = '\r\n.\r\n'


def recv_reply(sock):
    # a multi-line reply can come in several pieces: read until the last line
    reply = b''
    while True:
        data = sock.recv(1024)
        if not data:
            break
        reply += data
        lines = reply.split(b'\r\n')
        if len(lines) >= 2 and len(lines[-2]) >= 4 and lines[-2][3:4] == b' ':
            break
    return reply.decode()


def check(reply, code):
    print(reply)
    if reply[:3] != code:
        print('%s reply not received from server.' % code)
        sys.exit(1)


# Create socket called clientSocket and establish a TCP connection with mailserver
clientSocket = socket(AF_INET, SOCK_STREAM)
clientSocket.settimeout(30)
clientSocket.connect(mailserver)
recv = recv_reply(clientSocket)
check(recv, '220')

# Send EHLO command and print server response.
heloCommand = 'EHLO alice\r\n'
clientSocket.send(heloCommand.encode())
recv1 = recv_reply(clientSocket)
check(recv1, '250')

clientSocket.send('STARTTLS\r\n'.encode())
check(recv_reply(clientSocket), '220')
context = ssl.create_default_context()
context.check_hostname = False
context.verify_mode = ssl.CERT_NONE
clientSocket = context.wrap_socket(clientSocket, server_hostname=mailserver[0])
clientSocket.send(heloCommand.encode())
check(recv_reply(clientSocket), '250')

auth = base64.b64encode(('\x00' + username + '\x00' + password).encode()).decode()
clientSocket.send(('AUTH PLAIN ' + auth + '\r\n').encode())
check(recv_reply(clientSocket), '235')

try:
    # Send MAIL FROM command and print server response.
    clientSocket.send('MAIL FROM:<alice@example.com>\r\n'.encode())
    recv2 = recv_reply(clientSocket)
    print(recv2)

    # Send RCPT TO command and print server response.
    clientSocket.send('RCPT TO:<bob@example.com>\r\n'.encode())
    recv3 = recv_reply(clientSocket)
    print(recv3)

    # Send DATA command and print server response.
    clientSocket.send('DATA\r\n'.encode())
    recv4 = recv_reply(clientSocket)
    print(recv4)

    # Send message data.
    header = 'From: alice@example.com\r\nTo: bob@example.com\r\nSubject: SMTP lab test\r\nMIME-Version: 1.0\r\n'
    if image:
        data = base64.encodebytes(open(image, 'rb').read()).decode().replace('\n', '\r\n')
        header += 'Content-Type: multipart/mixed; boundary="XXXXboundary"\r\n'
        body = ('\r\n--XXXXboundary\r\nContent-Type: text/plain\r\n' + msg
                + '\r\n--XXXXboundary\r\nContent-Type: image/png\r\nContent-Transfer-Encoding: base64\r\n'
                + 'Content-Disposition: attachment; filename="' + os.path.basename(image) + '"\r\n\r\n'
                + data + '\r\n--XXXXboundary--\r\n')
    else:
        header += 'Content-Type: text/plain\r\n'
        body = msg
    clientSocket.send((header + body).replace('\r\n.', '\r\n..').encode())

    # Message ends with a single period.
    clientSocket.send(endmsg.encode())
    recv5 = recv_reply(clientSocket)
    print(recv5)

    # Send QUIT command and get server response.
    clientSocket.send('QUIT\r\n'.encode())
    recv6 = recv_reply(clientSocket)
    print(recv6)
    clientSocket.close()
except OSError as e:
    print('connection problem:', e)

print('Mail sent!')
