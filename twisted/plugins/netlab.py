"""
twistd plugins of twisted-netlab.  Each names its family's tap module as a
string, so listing plugins imports nothing heavy.
"""

from twisted.application.service import ServiceMaker

netlab_http = ServiceMaker(
    "netlab-http", "twisted_netlab.web.tap", "Static-file HTTP/1.1 server", "netlab-http"
)
netlab_mailsink = ServiceMaker(
    "netlab-mailsink", "twisted_netlab.mail.tap", "Local ESMTP test server storing mail in a Maildir", "netlab-mailsink"
)
netlab_all = ServiceMaker(
    "netlab-all", "twisted_netlab.tap", "Every netlab service at once, on loopback", "netlab-all"
)
