"""
The yardstick of benchmarks/http.sh: a bare Twisted Protocol that answers
every request on a connection with the same file, keep-alive, no parsing
beyond finding the end of each request head.  Usage: PORT FILE
"""
import sys

from twisted.internet import protocol, reactor

BODY = open(sys.argv[2], "rb").read()
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


class Bare(protocol.Protocol):
    buffer = b""

    def dataReceived(self, data):
        self.buffer += data
        count = self.buffer.count(b"\r\n\r\n")
        if count:
            self.buffer = self.buffer[self.buffer.rindex(b"\r\n\r\n") + 4 :]
            self.transport.write(RESPONSE * count)


factory = protocol.Factory.forProtocol(Bare)
factory.noisy = False
reactor.listenTCP(int(sys.argv[1]), factory, interface="127.0.0.1")
reactor.run()
