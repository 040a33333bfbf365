"""
A diagnostic yardstick for benchmarks/http.sh: netlab's request parser
(twisted_netlab.web._server_core) plus a fixed answer, nothing else.  Comparing it
with netlab-http shows what the server adds beyond parsing; comparing it
with bare_responder.py shows what strict parsing costs.  Usage: PORT FILE
"""
import sys

from twisted.internet import protocol, reactor

from twisted_netlab.web._server_core import NEED_DATA, Limits, Request, RequestParser

BODY = open(sys.argv[2], "rb").read()
RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s" % (len(BODY), BODY)


class ParserOnly(protocol.Protocol):
    def connectionMade(self):
        self.parser = RequestParser(Limits())

    def dataReceived(self, data):
        self.parser.receive_data(data)
        while self.parser.buffered:
            event = self.parser.next_event()
            if event is NEED_DATA:
                return
            if not isinstance(event, Request):
                self.transport.loseConnection()
                return
            self.transport.write(RESPONSE)


factory = protocol.Factory.forProtocol(ParserOnly)
factory.noisy = False
reactor.listenTCP(int(sys.argv[1]), factory, interface="127.0.0.1")
reactor.run()
