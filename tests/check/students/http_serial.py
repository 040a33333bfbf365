"""
Lab: web server (Kurose-Ross socket programming assignment 1), a student's
careful single-threaded version: the head is read up to the empty line
(however many segments it takes), pipelined requests are answered in order,
Content-Length, Date, HEAD, 404 and 405 with Allow, index.html for folders,
no path traversal, and persistent connections as HTTP/1.1 asks.

Command line: python3 http_serial.py PORT
Binds 127.0.0.1:PORT and serves files from the current working directory.

Flaw: one accept loop, no threads, no timeout: the server stays with one
  connection until that client closes it.  A client that connects and sends
  nothing (or keeps its connection open between requests) blocks every
  other client, which waits in the listen backlog meanwhile.
Not attempted, as in most submissions: the request checks of RFC 9112
(Host, Content-Length, Transfer-Encoding/chunked bodies, version), Range,
conditional requests, time-outs.
"""
import os
import sys
from email.utils import formatdate
from socket import *
from urllib.parse import unquote

root = os.path.realpath('.')
content_types = {'html': 'text/html', 'txt': 'text/plain; charset=utf-8', 'png': 'image/png',
                 'jpg': 'image/jpeg', 'gif': 'image/gif', 'css': 'text/css'}


def build_response(method, target):
    if method not in ('GET', 'HEAD'):
        body = b'405 Method Not Allowed\n'
        return '405 Method Not Allowed', [('Allow', 'GET, HEAD'), ('Content-Type', 'text/plain')], body
    path = unquote(target.split('?')[0])
    full = os.path.realpath(os.path.join(root, path.lstrip('/')))
    if not (full == root or full.startswith(root + '/')) or '\x00' in path:
        return '404 Not Found', [('Content-Type', 'text/plain')], b'404 Not Found\n'
    if os.path.isdir(full):
        full = os.path.join(full, 'index.html')
    if not os.path.isfile(full):
        return '404 Not Found', [('Content-Type', 'text/plain')], b'404 Not Found\n'
    with open(full, 'rb') as f:
        body = f.read()
    ext = full.rsplit('.', 1)[-1].lower() if '.' in os.path.basename(full) else ''
    return '200 OK', [('Content-Type', content_types.get(ext, 'application/octet-stream'))], body


def serve_connection(conn):
    data = b''
    while True:
        while b'\r\n\r\n' not in data:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
            if len(data) > 16384:
                conn.sendall(b'HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n'
                             b'Connection: close\r\n\r\n')
                return
        head, data = data.split(b'\r\n\r\n', 1)
        lines = head.decode('latin-1').split('\r\n')
        print(lines[0], flush=True)
        request_line = lines[0].split()
        if len(request_line) != 3:
            conn.sendall(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            return
        method, target, version = request_line
        fields = {}
        for line in lines[1:]:
            name, _, value = line.partition(':')
            fields[name.strip().lower()] = value.strip()
        # skip a request body if there is one
        try:
            length = int(fields.get('content-length', '0'))
        except ValueError:
            conn.sendall(b'HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
            return
        while len(data) < length:
            chunk = conn.recv(4096)
            if not chunk:
                return
            data += chunk
        data = data[length:]
        if version == 'HTTP/1.0':
            keep = fields.get('connection', '').lower() == 'keep-alive'
        else:
            keep = fields.get('connection', '').lower() != 'close'
        status, headers, body = build_response(method, target)
        out = 'HTTP/1.1 ' + status + '\r\n'
        out += 'Date: ' + formatdate(usegmt=True) + '\r\n'
        for name, value in headers:
            out += name + ': ' + value + '\r\n'
        out += 'Content-Length: ' + str(len(body)) + '\r\n'
        out += 'Connection: ' + ('keep-alive' if keep else 'close') + '\r\n\r\n'
        conn.sendall(out.encode() + (b'' if method == 'HEAD' else body))
        if not keep:
            return


port = int(sys.argv[1])
server = socket(AF_INET, SOCK_STREAM)
server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
server.bind(('127.0.0.1', port))
server.listen(128)
print('Server ready on port', port, flush=True)
while True:
    conn, addr = server.accept()
    print('connection from', addr, flush=True)
    try:
        serve_connection(conn)
    except OSError as e:
        print('error', e, flush=True)
    conn.close()
