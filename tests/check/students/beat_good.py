"""
Lab: UDP heartbeat client (Kurose-Ross socket programming assignment 2,
optional exercise), done right: every PERIOD seconds one datagram
"<seq> - <time>" (the classic heartbeat format: sequence number from 1,
a space, a dash, a space, the send time in seconds since the epoch).

Command line: python3 beat_good.py HOST PORT [PERIOD]   (PERIOD default 1 s)

Correct: beats are scheduled on a fixed grid (start + n * PERIOD), so the
period does not drift with the time a send takes; the socket is never
connect()ed, so an ICMP port unreachable (nothing listening yet, monitor
restarted) does not kill it: it keeps sending until it is stopped.  Prints
"beat <seq> sent to HOST:PORT" per beat.
"""
import sys
import time
from socket import *

host = sys.argv[1]
port = int(sys.argv[2])
period = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0

sock = socket(AF_INET, SOCK_DGRAM)
start = time.time()
seq = 1
while True:
    message = '%d - %s' % (seq, time.time())
    try:
        sock.sendto(message.encode(), (host, port))
        print('beat %d sent to %s:%d' % (seq, host, port), flush=True)
    except OSError as e:
        print('beat %d not sent: %s' % (seq, e), flush=True)
    seq += 1
    next_beat = start + (seq - 1) * period
    delay = next_beat - time.time()
    if delay > 0:
        time.sleep(delay)
