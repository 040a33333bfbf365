"""
Lab: UDP pinger client (Kurose-Ross socket programming assignment 2,
UDPPingerClient.py, with the optional statistics): 10 probes
"Ping <seq> <time>" (time is the send time in seconds since the epoch),
1 s timeout per probe, replies matched by sequence number (late echoes of
earlier probes are skipped).

Command line: python3 ping_miscount.py HOST PORT

Flaw: the loss rate is divided by the wrong count, lost / received instead
  of lost / sent: with 3 of 10 probes lost it prints 42.86 %, not 30 %
  (and with every probe lost it dies with ZeroDivisionError).  Only the
  percentage is printed, no counts.  Per-probe lines and RTTs are right.
Output per probe: "Ping <seq> RTT: <seconds> s" or
"Ping <seq> Request timed out"; then "Packet loss rate: P%" and
"Min RTT: ... s  Avg RTT: ... s  Max RTT: ... s".
"""
import sys
import time
from socket import *

host = sys.argv[1]
port = int(sys.argv[2])

sock = socket(AF_INET, SOCK_DGRAM)
rtt_list = []
lost = 0

for seq in range(1, 11):
    t0 = time.time()
    sock.sendto(('Ping %d %f' % (seq, t0)).encode(), (host, port))
    rtt = None
    while True:
        left = t0 + 1 - time.time()
        if left <= 0:
            break
        sock.settimeout(left)
        try:
            data, addr = sock.recvfrom(1024)
        except timeout:
            break
        words = data.decode().split()
        if len(words) >= 2 and words[1] == str(seq):
            rtt = time.time() - t0
            break
    if rtt is None:
        lost += 1
        print('Ping', seq, 'Request timed out')
    else:
        rtt_list.append(rtt)
        print('Ping', seq, 'RTT: %.6f s' % rtt)

received = len(rtt_list)
loss_rate = lost / received * 100
print('Packet loss rate: %.2f%%' % loss_rate)
if rtt_list:
    print('Min RTT: %.6f s  Avg RTT: %.6f s  Max RTT: %.6f s'
          % (min(rtt_list), sum(rtt_list) / len(rtt_list), max(rtt_list)))
