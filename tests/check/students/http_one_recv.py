"""
Lab: web server (Kurose-Ross socket programming assignment 1), a student's
threaded keep-alive version: a thread per client, correct responses
(Content-Length, Date, HEAD, 404 and 405 with Allow, index.html for
folders, no path traversal), connection kept open between requests.

Command line: python3 http_one_recv.py PORT
Binds 127.0.0.1:PORT and serves files from the current working directory.

Flaw: each recv() is taken to be one whole request.  A request head that
  arrives in several TCP segments is parsed from the first piece alone
  ("GET /fi" has no version: 400 and close; a first piece holding the whole
  request line but not the empty line is answered before the rest came, and
  the rest is then read as a request of its own), and of two pipelined
  requests that arrive in one segment only the first is answered.
Not attempted, as in most submissions: the request checks of RFC 9112
(Host, Content-Length, Transfer-Encoding/chunked bodies, version), Range,
conditional requests, time-outs.
"""
import os
import posixpath
import sys
import threading
from email.utils import formatdate
from socket import *
from urllib.parse import unquote

ROOT = os.path.realpath(os.getcwd())
TYPES = {'.html': 'text/html', '.txt': 'text/plain; charset=utf-8', '.png': 'image/png',
         '.jpg': 'image/jpeg', '.css': 'text/css', '.js': 'application/javascript'}


def response(code, reason, body=b'', extra=()):
    lines = ['HTTP/1.1 %d %s' % (code, reason), 'Date: ' + formatdate(usegmt=True),
             'Content-Length: %d' % len(body)]
    lines += ['%s: %s' % h for h in extra]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode(), body


def not_found():
    return response(404, 'Not Found', b'<h1>404 Not Found</h1>\n', [('Content-Type', 'text/html')])


def serve(method, target):
    if method not in ('GET', 'HEAD'):
        return response(405, 'Method Not Allowed', b'<h1>405 Method Not Allowed</h1>\n',
                        [('Allow', 'GET, HEAD'), ('Content-Type', 'text/html')])
    path = unquote(target.split('?', 1)[0])
    if not path.startswith('/') or '\x00' in path:
        return response(400, 'Bad Request')
    # normalise so that ".." cannot leave the root
    path = posixpath.normpath(path)
    filepath = os.path.realpath(os.path.join(ROOT, path.lstrip('/')))
    if filepath != ROOT and not filepath.startswith(ROOT + os.sep):
        return not_found()
    if os.path.isdir(filepath):
        filepath = os.path.join(filepath, 'index.html')
    try:
        with open(filepath, 'rb') as f:
            body = f.read()
    except OSError:
        return not_found()
    kind = TYPES.get(os.path.splitext(filepath)[1].lower(), 'application/octet-stream')
    return response(200, 'OK', body, [('Content-Type', kind)])


def handle(conn, addr):
    try:
        while True:
            request = conn.recv(8192)
            if not request:
                break
            lines = request.decode('latin-1').split('\r\n')
            print(addr, lines[0], flush=True)
            try:
                method, target, version = lines[0].split()
            except ValueError:
                head, body = response(400, 'Bad Request', extra=[('Connection', 'close')])
                conn.sendall(head)
                break
            keep_alive = version == 'HTTP/1.1'
            for line in lines[1:]:
                if line.lower().startswith('connection:') and 'close' in line.lower():
                    keep_alive = False
            head, body = serve(method, target)
            if not keep_alive:
                head = head[:-2] + b'Connection: close\r\n\r\n'
            conn.sendall(head if method == 'HEAD' else head + body)
            if not keep_alive:
                break
    except OSError as e:
        print('error:', e, flush=True)
    finally:
        conn.close()


def main():
    port = int(sys.argv[1])
    s = socket(AF_INET, SOCK_STREAM)
    s.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    s.bind(('127.0.0.1', port))
    s.listen(100)
    print('listening on', port, flush=True)
    while True:
        conn, addr = s.accept()
        threading.Thread(target=handle, args=(conn, addr), daemon=True).start()


if __name__ == '__main__':
    main()
