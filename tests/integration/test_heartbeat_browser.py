"""
Integration: the netlab-heartbeat status page as a person sees it, rendered
by headless Chromium (``--dump-dom``): the live client is listed alive, and
stopped after its sender is killed.
"""

import os
import re
import shutil
import signal
import subprocess
import tempfile

from twisted.trial.unittest import SkipTest, TestCase

from tests.helpers import child_env, executable, start_server

CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-extensions",
    "--disable-dev-shm-usage", "--mute-audio",
]
CHROMIUM_TIMEOUT = 60


def find_chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SkipTest("chromium is not installed (apt-get install chromium; .ci/run does)")


def row_state(dom, client):
    """
    The state cell of C{client}'s row in the rendered DOM, or None.
    """
    row = re.search(r'<tr class="(\w+)" data-client="' + re.escape(client) + r'">(.*?)</tr>', dom, re.S)
    if row is None:
        return None
    cell = re.search(r'<td class="state">(\w+)</td>', row.group(2))
    return (row.group(1), cell.group(1) if cell else None)


class StatusPageBrowserTests(TestCase):
    def setUp(self):
        self.chromium = find_chromium()
        self.log = start_server(
            self,
            ["netlab-heartbeat", "--port", "0", "--period", "0.2", "--timeout", "1",
             "--status", "tcp:0:interface=127.0.0.1"],
            expect=2,
            timeout=40,
        )
        self.udp_port, status_port = (port for _, _, port in self.log.ports)
        self.url = f"http://127.0.0.1:{status_port}/"

    def render(self):
        """
        The DOM Chromium builds from the page, with a fresh profile each time.
        """
        profile = tempfile.mkdtemp(prefix="netlab-chromium-")
        self.addCleanup(shutil.rmtree, profile, True)
        command = [self.chromium] + CHROMIUM_FLAGS + [f"--user-data-dir={profile}", "--dump-dom", self.url]
        env = child_env({"HOME": profile})
        # Its own session, so the whole process group (renderer, zygote) can
        # be ended if it hangs.
        browser = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                   stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            out, err = browser.communicate(timeout=CHROMIUM_TIMEOUT)
        except subprocess.TimeoutExpired as error:
            raise AssertionError(f"chromium did not render {self.url} in {CHROMIUM_TIMEOUT}s") from error
        finally:
            try:
                os.killpg(browser.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            if browser.poll() is None:
                browser.communicate(timeout=10)
        self.assertIn("<html", out, err[-2000:])
        return out

    def test_live_then_stopped(self):
        """
        Chromium shows the beating client as alive; after the sender is
        killed and the monitor declared it stopped, Chromium shows it
        stopped.
        """
        sender = subprocess.Popen(
            [executable("netlab"), "beat", "127.0.0.1", str(self.udp_port), "--interval", "0.2",
             "--id", "browser-client", "-q"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=child_env(),
        )
        self.addCleanup(lambda: (sender.poll() is None and sender.kill(), sender.wait(10)))
        self.log.expect(r"browser-client alive \(was new\)")
        dom = self.render()
        self.assertIn("<h1>netlab-heartbeat</h1>", dom)
        self.assertEqual(row_state(dom, "browser-client"), ("alive", "alive"))

        sender.send_signal(signal.SIGKILL)
        sender.wait(10)
        self.log.expect(r"browser-client stopped")
        dom = self.render()
        self.assertEqual(row_state(dom, "browser-client"), ("stopped", "stopped"))
        self.assertRegex(dom, r"1 clients: 0 alive, 0 suspect, 1 stopped")
