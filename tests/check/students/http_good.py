"""
Lab: web server (Kurose-Ross socket programming assignment 1), done right by
a careful student, for contrast with the flawed submissions.

Command line: python3 http_good.py PORT
Binds 127.0.0.1:PORT and serves files from the current working directory.

Correct: a thread per connection (at most 200, each idle-timed out after
10 s), the head read up to the empty line however it arrives (CRLF or bare
LF), pipelined requests answered in order; GET and HEAD (same head, no body
for HEAD), OPTIONS, 405 with Allow for other methods; 404 framed like every
response (Content-Length, empty line); Date in IMF-fixdate; Content-Type,
Last-Modified, ETag, 304 for If-None-Match / If-Modified-Since and 412
for an If-Match that does not match; one byte range (206, 416 with
"bytes */N", If-Range; several ranges get the whole file, as RFC 9110
allows);
keep-alive honoured (HTTP/1.1 default, Connection: close respected, HTTP/1.0
closes unless it asked for keep-alive); a folder serves its index.html (a
folder URL without the slash is redirected to it); no path traversal
("..", "%2e%2e", "..%2f" and symlinks leaving the root are refused).
A request head must arrive within 3 s of its first byte (408 and close).
Request errors as RFC 9112 asks: 400 for a missing, repeated or invalid Host,
obs-fold, bad or conflicting Content-Length, Content-Length together with
Transfer-Encoding; 414, 431, 501 and 505 where they apply; request bodies
(Content-Length or chunked) are read and discarded, never taken as the next
request.
"""
import os
import posixpath
import re
import socket
import sys
import threading
import time
from email.utils import formatdate, parsedate_to_datetime
from urllib.parse import unquote, urlsplit

ROOT = os.path.realpath(os.getcwd())
MAX_LINE = 8192
MAX_HEAD = 32768
MAX_BODY = 1 << 20
IDLE_TIMEOUT = 10.0
HEAD_TIMEOUT = 3.0
TYPES = {'.html': 'text/html; charset=utf-8', '.htm': 'text/html; charset=utf-8',
         '.txt': 'text/plain; charset=utf-8', '.css': 'text/css', '.js': 'text/javascript',
         '.png': 'image/png', '.jpg': 'image/jpeg', '.jpeg': 'image/jpeg', '.gif': 'image/gif',
         '.json': 'application/json', '.svg': 'image/svg+xml'}
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+\Z")
HOST = re.compile(r'(?:[A-Za-z0-9._~!$&\'()*+,;=%-]*|\[[0-9A-Fa-f:.]+\])(?::\d*)?\Z')
END_OF_HEAD = re.compile(rb'\r?\n\r?\n')
ALLOW = 'GET, HEAD, OPTIONS'
slots = threading.BoundedSemaphore(200)


class BadRequest(Exception):
    def __init__(self, code, reason):
        Exception.__init__(self, reason)
        self.code = code
        self.reason = reason


class Connection:
    def __init__(self, sock):
        self.sock = sock
        self.buffer = b''

    def fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise EOFError
        self.buffer += data

    def read_head(self):
        deadline = None
        while True:
            match = END_OF_HEAD.search(self.buffer)
            if match:
                head, self.buffer = self.buffer[:match.start()], self.buffer[match.end():]
                self.sock.settimeout(IDLE_TIMEOUT)
                return head
            first_line_end = self.buffer.find(b'\n')
            if first_line_end < 0 and len(self.buffer) > MAX_LINE:
                raise BadRequest(414, 'URI Too Long')
            if len(self.buffer) > MAX_HEAD:
                raise BadRequest(431, 'Request Header Fields Too Large')
            if self.buffer.strip(b'\r\n'):
                # a head that has begun must be complete within HEAD_TIMEOUT (slowloris)
                if deadline is None:
                    deadline = time.monotonic() + HEAD_TIMEOUT
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BadRequest(408, 'Request Timeout')
                self.sock.settimeout(left)
            try:
                self.fill()
            except socket.timeout:
                if deadline is not None:
                    raise BadRequest(408, 'Request Timeout')
                raise

    def read_exactly(self, n):
        while len(self.buffer) < n:
            self.fill()
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def read_line(self):
        while b'\n' not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise BadRequest(400, 'Bad Request')
            self.fill()
        line, self.buffer = self.buffer.split(b'\n', 1)
        return line.rstrip(b'\r')

    def read_chunked(self):
        total = 0
        while True:
            size_text = self.read_line().split(b';', 1)[0].strip()
            if not re.fullmatch(rb'[0-9A-Fa-f]{1,8}', size_text):
                raise BadRequest(400, 'Bad Request')
            size = int(size_text, 16)
            total += size
            if total > MAX_BODY:
                raise BadRequest(413, 'Content Too Large')
            if size == 0:
                break
            self.read_exactly(size)
            if self.read_line():
                raise BadRequest(400, 'Bad Request')  # chunk data longer than its size
        while self.read_line():  # trailer fields
            pass


def parse_head(head):
    text = head.decode('latin-1').lstrip('\r\n')  # empty lines before a request are allowed
    if '\r' in text.replace('\r\n', ''):
        raise BadRequest(400, 'Bad Request')  # a bare CR
    lines = text.replace('\r\n', '\n').split('\n')
    if len(lines[0]) > MAX_LINE:
        raise BadRequest(414, 'URI Too Long')
    parts = lines[0].split(' ')
    if len(parts) != 3 or not TOKEN.match(parts[0]):
        raise BadRequest(400, 'Bad Request')
    method, target, version = parts
    found = re.fullmatch(r'HTTP/(\d)\.(\d)', version)
    if not found:
        raise BadRequest(400, 'Bad Request')
    if found.group(1) != '1':
        raise BadRequest(505, 'HTTP Version Not Supported')
    minor = int(found.group(2))
    if len(lines) > 101:
        raise BadRequest(431, 'Request Header Fields Too Large')
    fields = {}
    for line in lines[1:]:
        if line[:1] in (' ', '\t'):
            raise BadRequest(400, 'Bad Request')  # obs-fold
        name, colon, value = line.partition(':')
        if not colon or not TOKEN.match(name):
            raise BadRequest(400, 'Bad Request')
        value = value.strip(' \t')
        if any(ord(c) < 32 and c != '\t' or ord(c) == 127 for c in value):
            raise BadRequest(400, 'Bad Request')
        fields.setdefault(name.lower(), []).append(value)
    return method, target, minor, fields


def read_body(conn, fields):
    lengths = fields.get('content-length', [])
    codings = fields.get('transfer-encoding', [])
    if codings and lengths:
        raise BadRequest(400, 'Bad Request')
    if codings:
        names = [c.strip().lower() for c in ','.join(codings).split(',')]
        if names != ['chunked']:
            raise BadRequest(501, 'Not Implemented')
        conn.read_chunked()
        return
    if lengths:
        values = set(v.strip() for v in ','.join(lengths).split(','))
        if len(values) != 1 or not re.fullmatch(r'\d{1,18}', next(iter(values))):
            raise BadRequest(400, 'Bad Request')
        length = int(values.pop())
        if length > MAX_BODY:
            raise BadRequest(413, 'Content Too Large')
        if length and 'continue' in ','.join(fields.get('expect', [])).lower():
            conn.sock.sendall(b'HTTP/1.1 100 Continue\r\n\r\n')
        conn.read_exactly(length)


def resolve(target):
    """The file for a request target, or None; a str means 'redirect here'."""
    if target.startswith('http://') or target.startswith('https://'):
        target = urlsplit(target).path or '/'
    if not target.startswith('/'):
        return None
    raw_path = target.split('?', 1)[0].split('#', 1)[0]
    path = unquote(raw_path)
    if '\x00' in path or '\\' in path:
        return None
    if '..' in path.split('/'):
        return None
    full = os.path.realpath(os.path.join(ROOT, posixpath.normpath(path).lstrip('/')))
    if full != ROOT and not full.startswith(ROOT + os.sep):
        return None
    if os.path.isdir(full):
        if not path.endswith('/'):
            return raw_path + '/'
        full = os.path.join(full, 'index.html')
    if not os.path.isfile(full):
        return None
    return (full,)


def head_bytes(code, reason, fields):
    lines = ['HTTP/1.1 %d %s' % (code, reason), 'Date: ' + formatdate(usegmt=True),
             'Server: good-student/1.0']
    lines += ['%s: %s' % pair for pair in fields]
    return ('\r\n'.join(lines) + '\r\n\r\n').encode('latin-1')


def simple(code, reason, keep, extra=()):
    body = ('%d %s\n' % (code, reason)).encode()
    fields = list(extra) + [('Content-Type', 'text/plain; charset=utf-8'),
                            ('Content-Length', str(len(body)))]
    if not keep:
        fields.append(('Connection', 'close'))
    return head_bytes(code, reason, fields), body


def respond(conn, method, target, fields, keep):
    if method == 'OPTIONS':
        extra = [('Allow', ALLOW), ('Content-Length', '0')] + ([] if keep else [('Connection', 'close')])
        conn.sock.sendall(head_bytes(200, 'OK', extra))
        return
    if method not in ('GET', 'HEAD'):
        head, body = simple(405, 'Method Not Allowed', keep, [('Allow', ALLOW)])
    elif target == '*':
        head, body = simple(400, 'Bad Request', keep)
    else:
        found = resolve(target)
        if found is None:
            head, body = simple(404, 'Not Found', keep)
        elif isinstance(found, str):
            head, body = simple(301, 'Moved Permanently', keep, [('Location', found)])
        else:
            send_file(conn, method, found[0], fields, keep)
            return
    conn.sock.sendall(head if method == 'HEAD' else head + body)


def send_file(conn, method, path, fields, keep):
    info = os.stat(path)
    etag = '"%x-%x"' % (info.st_mtime_ns, info.st_size)
    modified = formatdate(info.st_mtime, usegmt=True)
    common = [('Last-Modified', modified), ('ETag', etag)]
    if not keep:
        common.append(('Connection', 'close'))
    if 'if-match' in fields:
        tags = [t.strip() for t in ','.join(fields['if-match']).split(',')]
        if '*' not in tags and etag not in tags:
            conn.sock.sendall(head_bytes(412, 'Precondition Failed', [('Content-Length', '0')] + common))
            return
    not_modified = False
    if 'if-none-match' in fields:
        tags = [t.strip() for t in ','.join(fields['if-none-match']).split(',')]
        not_modified = '*' in tags or etag in tags or ('W/' + etag) in tags
    elif 'if-modified-since' in fields:
        try:
            since = parsedate_to_datetime(fields['if-modified-since'][0]).timestamp()
            not_modified = int(info.st_mtime) <= since
        except (TypeError, ValueError, IndexError):
            pass
    if not_modified:
        conn.sock.sendall(head_bytes(304, 'Not Modified', common))
        return
    kind = TYPES.get(os.path.splitext(path)[1].lower(), 'application/octet-stream')
    size = info.st_size
    common = [('Accept-Ranges', 'bytes')] + common
    wanted = None
    if method == 'GET' and 'range' in fields and if_range_holds(fields, etag, modified):
        wanted = parse_range(fields['range'][0], size)
    if wanted == 'unsatisfiable':
        conn.sock.sendall(head_bytes(416, 'Range Not Satisfiable',
                                     [('Content-Range', 'bytes */%d' % size), ('Content-Length', '0')] + common))
        return
    if wanted is None:
        start, length = 0, size
        head = head_bytes(200, 'OK', [('Content-Type', kind), ('Content-Length', str(size))] + common)
    else:
        start, end = wanted
        length = end - start + 1
        head = head_bytes(206, 'Partial Content',
                          [('Content-Type', kind), ('Content-Range', 'bytes %d-%d/%d' % (start, end, size)),
                           ('Content-Length', str(length))] + common)
    conn.sock.sendall(head)
    if method == 'GET':
        with open(path, 'rb') as f:
            f.seek(start)
            while length > 0:
                block = f.read(min(65536, length))
                if not block:
                    break
                length -= len(block)
                conn.sock.sendall(block)


def if_range_holds(fields, etag, modified):
    if 'if-range' not in fields:
        return True
    value = fields['if-range'][0].strip()
    return value == etag or value == modified


def parse_range(value, size):
    """(first, last) for one byte range, 'unsatisfiable', or None to send it all."""
    found = re.fullmatch(r'\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*', value)
    if not found or found.group(1) == found.group(2) == '':
        return None  # several ranges or another unit: the whole file is a valid answer
    first, last = found.groups()
    if first == '':
        count = int(last)
        if count == 0 or size == 0:
            return 'unsatisfiable'
        return max(0, size - count), size - 1
    first = int(first)
    last = size - 1 if last == '' else min(int(last), size - 1)
    if first >= size:
        return 'unsatisfiable'
    if last < first:
        return None
    return first, last


def handle(sock, addr):
    conn = Connection(sock)
    sock.settimeout(IDLE_TIMEOUT)
    try:
        while True:
            try:
                head = conn.read_head()
                if not head.strip(b'\r\n'):
                    continue
                method, target, minor, fields = parse_head(head)
                hosts = fields.get('host', [])
                if len(hosts) > 1 or (minor >= 1 and not hosts) or not all(HOST.match(h) for h in hosts):
                    raise BadRequest(400, 'Bad Request')
                read_body(conn, fields)
            except BadRequest as error:
                head, body = simple(error.code, error.reason, False)
                sock.sendall(head + body)
                return
            tokens = [t.strip().lower() for t in ','.join(fields.get('connection', [])).split(',')]
            keep = 'close' not in tokens and (minor >= 1 or 'keep-alive' in tokens)
            print('%s:%d %s %s' % (addr[0], addr[1], method, target), flush=True)
            respond(conn, method, target, fields, keep)
            if not keep:
                return
    except (EOFError, OSError):
        pass
    finally:
        sock.close()
        slots.release()


def main():
    port = int(sys.argv[1])
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(('127.0.0.1', port))
    server.listen(128)
    print('serving %s on 127.0.0.1:%d' % (ROOT, port), flush=True)
    while True:
        slots.acquire()
        sock, addr = server.accept()
        threading.Thread(target=handle, args=(sock, addr), daemon=True).start()


if __name__ == '__main__':
    main()
