"""
Lab: UDP pinger client (Kurose-Ross socket programming assignment 2,
UDPPingerClient.py), done right: 10 probes "Ping <seq> <time>" (time is the
send time in seconds since the epoch), 1 s timeout per probe.

Command line: python3 ping_good.py HOST PORT

Correct: a reply counts only for the probe whose sequence number it carries;
a late echo of an earlier probe is read and discarded while the client keeps
waiting for its current probe (whose 1 s deadline is kept).  Per probe it
prints "Ping <seq>: reply from <addr>, RTT = <seconds> s" or
"Ping <seq>: Request timed out", then the number of probes sent and
received, the loss in percent, and min/avg/max RTT in seconds.
"""
import re
import sys
import time
from socket import *

host = sys.argv[1]
port = int(sys.argv[2])
COUNT = 10
TIMEOUT = 1.0

clientSocket = socket(AF_INET, SOCK_DGRAM)
rtts = []

for seq in range(1, COUNT + 1):
    sendTime = time.time()
    message = 'Ping %d %s' % (seq, sendTime)
    clientSocket.sendto(message.encode(), (host, port))
    deadline = sendTime + TIMEOUT
    rtt = None
    while rtt is None:
        remaining = deadline - time.time()
        if remaining <= 0:
            break
        clientSocket.settimeout(remaining)
        try:
            reply, server = clientSocket.recvfrom(2048)
        except timeout:
            break
        # the server may send back an echo of an older probe: check the number
        found = re.match(r'\s*ping (\d+)', reply.decode(errors='replace'), re.IGNORECASE)
        if found and int(found.group(1)) == seq:
            rtt = time.time() - sendTime
    if rtt is None:
        print('Ping %d: Request timed out' % seq)
    else:
        rtts.append(rtt)
        print('Ping %d: reply from %s, RTT = %.6f s' % (seq, server[0], rtt))

clientSocket.close()
received = len(rtts)
print('--- ping statistics ---')
print('%d packets sent, %d received, %.1f%% packet loss' % (COUNT, received, (COUNT - received) * 100.0 / COUNT))
if rtts:
    print('RTT min/avg/max = %.6f/%.6f/%.6f s' % (min(rtts), sum(rtts) / received, max(rtts)))
