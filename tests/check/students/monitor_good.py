"""
Lab: UDP heartbeat server (Kurose-Ross socket programming assignment 2,
optional exercise), done right: receives "<seq> - <time>" beats (also
accepts "<seq> <time>") and reports, one line per event:
  "client HOST:PORT alive (beat <seq>)"        first beat, or first after a stop
  "client HOST:PORT lost N heartbeat(s) (sequence A to B)"   a gap in the sequence
  "client HOST:PORT late or duplicate beat <seq> ignored"
  "client HOST:PORT stopped: no heartbeat for T s"   TIMEOUT s of silence
and "ignored malformed datagram from HOST:PORT" for anything else.

Command line: python3 monitor_good.py PORT [TIMEOUT]   (TIMEOUT default 3 s)
Binds 127.0.0.1:PORT (UDP).

Correct: the socket timeout is set to the nearest deadline (last beat +
TIMEOUT) of the clients it tracks (one per address), so a stop is reported
TIMEOUT s after that client's last beat even when nothing else arrives;
nothing is reported stopped while beats keep coming; a client that comes
back after a stop is reported alive again.
"""
import re
import sys
import time
from socket import *

port = int(sys.argv[1])
TIMEOUT = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
BEAT = re.compile(r'\s*(\d+)\s+(?:-\s+)?(\d+(?:\.\d+)?)\s*$')

sock = socket(AF_INET, SOCK_DGRAM)
sock.bind(('127.0.0.1', port))
print('heartbeat monitor on 127.0.0.1:%d, timeout %g s' % (port, TIMEOUT), flush=True)

clients = {}  # address -> {'next': expected sequence, 'last': time of last beat, 'alive': bool}


def report_stopped(now):
    for addr, state in clients.items():
        if state['alive'] and now - state['last'] >= TIMEOUT:
            state['alive'] = False
            print('client %s:%d stopped: no heartbeat for %.1f s' % (addr[0], addr[1], now - state['last']),
                  flush=True)


while True:
    # wait at most until the next alive client's deadline
    deadlines = [state['last'] + TIMEOUT for state in clients.values() if state['alive']]
    if deadlines:
        sock.settimeout(max(0.01, min(deadlines) - time.time()))
    else:
        sock.settimeout(None)
    try:
        data, addr = sock.recvfrom(1024)
    except timeout:
        report_stopped(time.time())
        continue
    now = time.time()
    match = BEAT.match(data.decode('ascii', 'replace'))
    if not match:
        print('ignored malformed datagram from %s:%d' % addr, flush=True)
        continue
    seq = int(match.group(1))
    state = clients.get(addr)
    if state is None:
        state = clients[addr] = {'next': None, 'last': now, 'alive': False}
    if not state['alive']:
        state['alive'] = True
        print('client %s:%d alive (beat %d)' % (addr[0], addr[1], seq), flush=True)
    elif seq > state['next']:
        missing = seq - state['next']
        print('client %s:%d lost %d heartbeat(s) (sequence %d to %d)'
              % (addr[0], addr[1], missing, state['next'], seq - 1), flush=True)
    elif seq < state['next']:
        print('client %s:%d late or duplicate beat %d ignored' % (addr[0], addr[1], seq), flush=True)
        state['last'] = now
        continue
    state['next'] = seq + 1
    state['last'] = now
    report_stopped(now)  # other clients whose time ran out while this one beat
