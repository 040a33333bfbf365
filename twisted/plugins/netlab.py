"""
twistd plugins of twisted-netlab.  Each names its family's tap module as a
string, so listing plugins imports nothing heavy; the start-up glue
(netlab's --version, one-line usage errors, binding before twistd
daemonizes) is in twisted_netlab._twistd, imported only when used.
"""

from twisted.application.service import ServiceMaker


class _NetlabServiceMaker(ServiceMaker):
    @property
    def options(self):  # type: ignore[override]
        from twisted_netlab._twistd import plugin_options

        return plugin_options(self.tapname, ServiceMaker.options.fget(self))  # type: ignore[attr-defined]

    def makeService(self, options):  # type: ignore[no-untyped-def]
        from twisted_netlab._twistd import make_service

        return make_service(self.module, options)


netlab_http = _NetlabServiceMaker(
    "netlab-http", "twisted_netlab.web.tap", "Static-file HTTP/1.1 server", "netlab-http"
)
netlab_echo = _NetlabServiceMaker(
    "netlab-echo", "twisted_netlab.ping.tap", "Lossy UDP echo server with network impairments", "netlab-echo"
)
netlab_heartbeat = _NetlabServiceMaker(
    "netlab-heartbeat", "twisted_netlab.heartbeat.tap", "UDP heartbeat monitor for many clients", "netlab-heartbeat"
)
netlab_mailsink = _NetlabServiceMaker(
    "netlab-mailsink", "twisted_netlab.mail.tap", "Local ESMTP test server storing mail in a Maildir", "netlab-mailsink"
)
netlab_all = _NetlabServiceMaker(
    "netlab-all", "twisted_netlab.tap", "Every netlab service at once, on loopback", "netlab-all"
)
