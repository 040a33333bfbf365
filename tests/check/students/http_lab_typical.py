"""
Lab: web server (Kurose-Ross socket programming assignment 1, WebServer.py),
written the way the handout's skeleton leads students to write it.

Command line: python3 http_lab_typical.py PORT
Binds 127.0.0.1:PORT and serves files from the current working directory.

Flaws (as in most submissions built on the skeleton):
  - one recv(1024) per connection: the request is whatever the first recv
    returned (a head split over several segments is cut short, a pipelined
    second request is never answered);
  - the 404 is the status line "HTTP/1.1 404 Not Found\\r\\n" followed at once
    by the HTML body: no empty line ends the head, no Content-Length, the
    connection close is the only framing;
  - the 200 says "Connection: keep-alive" and then closes the connection
    after that one response;
  - one client at a time (accept, answer, close, accept: listen(1)), so an
    idle client blocks everyone else;
  - the path is opened as filename[1:] relative to the working directory: no
    percent-decoding (a name with a space is a 404), a folder is a 404 (no
    index.html), and "/../x" opens a file beside the root;
  - the method is never looked at (DELETE and POST get the file, HEAD gets
    the body too); no Date header;
  - only IOError and IndexError are caught: a request that is not UTF-8
    (UnicodeDecodeError) ends the program, and so does a client that goes away
    while a response is written (BrokenPipeError is an IOError: the except
    branch then writes the 404 to the dead socket and that raises again).
The 200 response itself is framed correctly (Content-Length, empty line).
"""
# import socket module
from socket import *
import sys  # In order to terminate the program

serverPort = int(sys.argv[1])
serverSocket = socket(AF_INET, SOCK_STREAM)
# Prepare a server socket
serverSocket.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
serverSocket.bind(('127.0.0.1', serverPort))
serverSocket.listen(1)

while True:
    # Establish the connection
    print('Ready to serve...', flush=True)
    connectionSocket, addr = serverSocket.accept()
    try:
        message = connectionSocket.recv(1024).decode()
        if not message:
            # the browser opens connections and closes them without asking anything
            connectionSocket.close()
            continue
        print(message.split('\r\n')[0], flush=True)
        filename = message.split()[1]
        f = open(filename[1:], 'rb')
        outputdata = f.read()
        f.close()
        # Send one HTTP header line into socket
        connectionSocket.send('HTTP/1.1 200 OK\r\n'.encode())
        connectionSocket.send('Content-Type: text/html\r\n'.encode())
        connectionSocket.send(('Content-Length: ' + str(len(outputdata)) + '\r\n').encode())
        connectionSocket.send('Connection: keep-alive\r\n'.encode())
        connectionSocket.send('\r\n'.encode())
        # Send the content of the requested file to the client
        connectionSocket.sendall(outputdata)
        connectionSocket.close()
    except IOError:
        # Send response message for file not found
        connectionSocket.send('HTTP/1.1 404 Not Found\r\n'.encode())
        connectionSocket.send('<html><head></head><body><h1>404 Not Found</h1></body></html>\r\n'.encode())
        # Close client socket
        connectionSocket.close()
    except IndexError:
        connectionSocket.close()

serverSocket.close()
sys.exit()  # Terminate the program after sending the corresponding data
