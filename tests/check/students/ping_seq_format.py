"""
Lab: UDP pinger client (Kurose-Ross socket programming assignment 2), a
correct client in another common style: probes "sequence=<n>\\ttime=<t>"
(a tab between the fields, time in seconds since the epoch), 1 s timeout,
output in milliseconds with "seq=" and "rtt=".

Command line: python3 ping_seq_format.py HOST PORT

Correct: replies are matched by the sequence number they carry (in any
letter case, for servers that upper-case the echo); a late
echo of an earlier probe is discarded and the current probe keeps its 1 s
deadline.  Per probe: "seq=<n> rtt=<ms> ms" or "seq=<n> timed out"; then
"10 sent, R received, P% loss" and "rtt min/avg/max = a/b/c ms".
"""
import re
import socket
import sys
import time

HOST, PORT = sys.argv[1], int(sys.argv[2])
COUNT = 10
TIMEOUT = 1.0


def main():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    times = []
    for n in range(1, COUNT + 1):
        sent = time.time()
        s.sendto(('sequence=%d\ttime=%.6f' % (n, sent)).encode(), (HOST, PORT))
        got = None
        while got is None and time.time() < sent + TIMEOUT:
            s.settimeout(max(0.001, sent + TIMEOUT - time.time()))
            try:
                data, _ = s.recvfrom(2048)
            except socket.timeout:
                break
            m = re.search(r'sequence=(\d+)', data.decode('ascii', 'replace'), re.IGNORECASE)
            if m and int(m.group(1)) == n:
                got = (time.time() - sent) * 1000.0
        if got is None:
            print('seq=%d timed out' % n)
        else:
            times.append(got)
            print('seq=%d rtt=%.3f ms' % (n, got))
    loss = 100.0 * (COUNT - len(times)) / COUNT
    print('%d sent, %d received, %g%% loss' % (COUNT, len(times), loss))
    if times:
        print('rtt min/avg/max = %.3f/%.3f/%.3f ms' % (min(times), sum(times) / len(times), max(times)))


main()
