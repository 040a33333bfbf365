"""
Lab: UDP pinger client (Kurose-Ross socket programming assignment 2,
UDPPingerClient.py) as most students write it: 10 probes
"Ping <seq> <time>" (time is the send time in seconds since the epoch),
settimeout(1) on the socket, one recvfrom per probe.

Command line: python3 ping_late_reply.py HOST PORT

Flaw: whatever datagram arrives next is taken as the reply to the current
  probe.  When the echo of probe k comes back after its 1 s timeout, it
  arrives while the client waits for probe k+1 and is printed as probe k+1's
  reply, with an RTT measured from probe k+1's send time (so probe k+1 is
  never counted lost even if its own echo was dropped, and every later
  probe may be shifted the same way).
Output per probe: "Ping <seq>: RTT = <seconds> seconds" or
"Ping <seq>: Request timed out"; then "Packets sent: 10, received: R,
lost: L (P% loss)" and "Min RTT: ... s, Avg RTT: ... s, Max RTT: ... s".
"""
import sys
import time
from socket import *

serverName = sys.argv[1]
serverPort = int(sys.argv[2])
clientSocket = socket(AF_INET, SOCK_DGRAM)
clientSocket.settimeout(1)

rtts = []
lost = 0
for i in range(1, 11):
    start = time.time()
    message = 'Ping ' + str(i) + ' ' + str(start)
    clientSocket.sendto(message.encode(), (serverName, serverPort))
    try:
        response, serverAddress = clientSocket.recvfrom(1024)
        rtt = time.time() - start
        rtts.append(rtt)
        print('Ping %d: RTT = %.6f seconds' % (i, rtt))
    except timeout:
        lost += 1
        print('Ping %d: Request timed out' % i)

clientSocket.close()
print('Packets sent: 10, received: %d, lost: %d (%.0f%% loss)' % (len(rtts), lost, lost * 10.0))
if len(rtts) > 0:
    print('Min RTT: %.6f s, Avg RTT: %.6f s, Max RTT: %.6f s' % (min(rtts), sum(rtts) / len(rtts), max(rtts)))
