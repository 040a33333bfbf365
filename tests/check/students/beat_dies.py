"""
Lab: UDP heartbeat client (Kurose-Ross socket programming assignment 2,
optional exercise): every PERIOD seconds a datagram "<seq> - <time>" (the
classic heartbeat format: sequence number from 1, send time in seconds
since the epoch).

Command line: python3 beat_dies.py HOST PORT [PERIOD]   (PERIOD default 1 s)

Flaw: the student connect()s the UDP socket "to save passing the address
  every time" and uses send().  On a connected UDP socket the kernel
  reports the ICMP port unreachable that comes back when nothing listens,
  so the next send() raises ConnectionRefusedError and the client dies
  with a traceback (exit status 1) instead of beating on until the monitor
  is up again.  Prints "sent: <seq> - <time>" per beat.
"""
import socket
import sys
import time

host = sys.argv[1]
port = int(sys.argv[2])
period = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0

s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.connect((host, port))
seq = 1
while True:
    msg = f"{seq} - {time.time()}"
    s.send(msg.encode())
    print("sent:", msg, flush=True)
    seq += 1
    time.sleep(period)
