"""
Lab: UDP heartbeat server (Kurose-Ross socket programming assignment 2,
optional exercise): receives "<seq> - <time>" beats and prints
  "Client HOST:PORT is alive (heartbeat <seq>)"   on the first beat
  "Lost N heartbeat(s) before <seq>"              on a gap in the sequence
  "Client stopped (no heartbeat for T s)"         see the flaw

Command line: python3 monitor_never_stops.py PORT [TIMEOUT]   (TIMEOUT default 3 s)
Binds 127.0.0.1:PORT (UDP).

Flaw: the silence check "now - last > TIMEOUT" sits after recvfrom() on a
  blocking socket with no timeout, so it only runs when the next datagram
  arrives.  When the client stops, recvfrom() waits forever and no stop is
  ever reported; if the client comes back much later, a stop is printed
  then, long after the fact.
"""
import sys
import time
from socket import *

serverPort = int(sys.argv[1])
TIMEOUT = float(sys.argv[2]) if len(sys.argv) > 2 else 3

serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', serverPort))
print('Heartbeat server ready on port', serverPort, flush=True)

expected = None
last = None
while True:
    message, address = serverSocket.recvfrom(1024)
    now = time.time()
    if last is not None and now - last > TIMEOUT:
        print('Client stopped (no heartbeat for %.1f s)' % (now - last), flush=True)
    last = now
    try:
        parts = message.decode().split()
        seq = int(parts[0])
        sent = float(parts[-1])
    except (ValueError, IndexError, UnicodeDecodeError):
        continue
    if expected is None:
        print('Client %s:%d is alive (heartbeat %d)' % (address[0], address[1], seq), flush=True)
    elif seq > expected:
        print('Lost %d heartbeat(s) before %d' % (seq - expected, seq), flush=True)
    if expected is None or seq >= expected:
        expected = seq + 1
