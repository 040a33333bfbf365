"""
Lab: web server (Kurose-Ross socket programming assignment 1), a student's
threaded version that went past the skeleton: a thread per client, the head
read up to the empty line, Content-Length, Date, keep-alive, HEAD, 404 and
405 with Allow, index.html for folders.

Command line: python3 http_traversal.py PORT
Binds 127.0.0.1:PORT and serves files from the current working directory.

Flaw: the file is found by gluing the percent-decoded URL path to the root,
  os.getcwd() + unquote(path), with no check that the result stays inside
  the root, so "/../secret.txt", "/%2e%2e/secret.txt" and "/..%2fsecret.txt"
  all return the file beside the root (and enough "../" reach
  /etc/passwd).  The lab's other requests are answered correctly.
Not attempted, as in most submissions: the request checks of RFC 9112
(Host, Content-Length, Transfer-Encoding/chunked bodies, version), Range,
conditional requests, time-outs.
"""
import os
import sys
import threading
from email.utils import formatdate
from socket import *
from urllib.parse import unquote

ROOT = os.getcwd()

TYPES = {'.html': 'text/html', '.htm': 'text/html', '.txt': 'text/plain; charset=utf-8',
         '.css': 'text/css', '.js': 'application/javascript', '.png': 'image/png',
         '.jpg': 'image/jpeg', '.gif': 'image/gif'}


def make_response(status, headers, body):
    head = 'HTTP/1.1 ' + status + '\r\n'
    head += 'Date: ' + formatdate(usegmt=True) + '\r\n'
    head += 'Server: MyWebServer/1.0\r\n'
    for name, value in headers:
        head += name + ': ' + value + '\r\n'
    head += 'Content-Length: ' + str(len(body)) + '\r\n'
    head += '\r\n'
    return head.encode(), body


def find_file(path):
    path = unquote(path.split('?')[0])
    filepath = ROOT + path
    if os.path.isdir(filepath):
        filepath = os.path.join(filepath, 'index.html')
    return filepath


def handle_request(method, path):
    if method not in ('GET', 'HEAD'):
        body = b'<html><body><h1>405 Method Not Allowed</h1></body></html>'
        return make_response('405 Method Not Allowed', [('Allow', 'GET, HEAD'), ('Content-Type', 'text/html')], body)
    filepath = find_file(path)
    try:
        with open(filepath, 'rb') as f:
            data = f.read()
    except IOError:
        body = b'<html><body><h1>404 Not Found</h1></body></html>'
        return make_response('404 Not Found', [('Content-Type', 'text/html')], body)
    ext = os.path.splitext(filepath)[1].lower()
    return make_response('200 OK', [('Content-Type', TYPES.get(ext, 'application/octet-stream'))], data)


def client_thread(conn, addr):
    buffer = b''
    try:
        while True:
            # read until the end of the headers
            while b'\r\n\r\n' not in buffer:
                data = conn.recv(4096)
                if not data:
                    return
                buffer += data
                if len(buffer) > 65536:
                    return
            head, buffer = buffer.split(b'\r\n\r\n', 1)
            lines = head.decode('latin-1').split('\r\n')
            print(addr, lines[0], flush=True)
            parts = lines[0].split()
            if len(parts) != 3:
                head, body = make_response('400 Bad Request', [('Connection', 'close')], b'')
                conn.sendall(head)
                return
            method, path, version = parts
            headers = {}
            for line in lines[1:]:
                if ':' in line:
                    name, value = line.split(':', 1)
                    headers[name.strip().lower()] = value.strip()
            length = int(headers.get('content-length', '0') or 0)
            while len(buffer) < length:
                data = conn.recv(4096)
                if not data:
                    return
                buffer += data
            buffer = buffer[length:]
            close = headers.get('connection', '').lower() == 'close' or version == 'HTTP/1.0'
            head, body = make_response_for(method, path, close)
            conn.sendall(head)
            if method != 'HEAD':
                conn.sendall(body)
            if close:
                return
    except (OSError, ValueError) as e:
        print('error:', e, flush=True)
    finally:
        conn.close()


def make_response_for(method, path, close):
    head, body = handle_request(method, path)
    if close:
        head = head[:-2] + b'Connection: close\r\n\r\n'
    return head, body


def main():
    port = int(sys.argv[1])
    server = socket(AF_INET, SOCK_STREAM)
    server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
    server.listen(100)
    print('Serving', ROOT, 'on port', port, flush=True)
    while True:
        conn, addr = server.accept()
        t = threading.Thread(target=client_thread, args=(conn, addr))
        t.daemon = True
        t.start()


if __name__ == '__main__':
    main()
