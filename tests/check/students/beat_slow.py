"""
Lab: UDP heartbeat client (Kurose-Ross socket programming assignment 2,
optional exercise): datagrams "<seq> - <time>" (the classic heartbeat
format: sequence number from 1, send time in seconds since the epoch) on
an unconnected UDP socket.

Command line: python3 beat_slow.py HOST PORT [PERIOD]   (PERIOD default 1 s)

Flaw: PERIOD is read and printed ("sending heartbeats every 0.5 s") but the
  loop still sleeps the INTERVAL constant of the student's first version,
  2 s, whatever it was told: one beat every 2 s (plus the send time).
Prints "heartbeat <seq>" per beat.
"""
import sys
import time
from socket import *

INTERVAL = 2  # seconds between heartbeats

serverName = sys.argv[1]
serverPort = int(sys.argv[2])
period = float(sys.argv[3]) if len(sys.argv) > 3 else 1
print('sending heartbeats to %s:%d every %s s' % (serverName, serverPort, period), flush=True)

clientSocket = socket(AF_INET, SOCK_DGRAM)
sequence = 1
while True:
    message = str(sequence) + ' - ' + str(time.time())
    clientSocket.sendto(message.encode(), (serverName, serverPort))
    print('heartbeat', sequence, flush=True)
    sequence += 1
    time.sleep(INTERVAL)
