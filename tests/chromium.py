"""
Headless Chromium for the tests of netlab's pictures: render a page (a
file:// report or a status page), return its DOM or a screenshot, and the
console messages Chromium logged while doing so.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import tempfile
from typing import List, Optional, Tuple

from twisted.trial.unittest import SkipTest

from tests.helpers import child_env

FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-extensions", "--disable-dev-shm-usage", "--mute-audio", "--hide-scrollbars",
    "--enable-logging=stderr", "--v=0",
]
#: Bound on one Chromium run (a render takes 1-3 s on the shared CI box).
TIMEOUT_SECONDS = 60
#: A console message as Chromium logs it: ``[...:INFO:CONSOLE:1] "text", source: url (1)``.
CONSOLE = re.compile(r":CONSOLE(?:\(\d+\)|:\d+)?\] (.*)$", re.M)
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def find_chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    raise SkipTest("chromium is not installed (scripts/setup test installs it)")


def render(
    testcase, url: str, screenshot: Optional[str] = None, window_size: Tuple[int, int] = (860, 680)
) -> Tuple[str, List[str]]:
    """
    Load C{url} in a fresh headless Chromium profile; return the DOM it
    built (or, with C{screenshot}, whatever it printed after writing that
    PNG) and the console messages it logged.
    """
    chromium = find_chromium()
    profile = tempfile.mkdtemp(prefix="netlab-chromium-")
    testcase.addCleanup(shutil.rmtree, profile, True)
    action = [f"--screenshot={screenshot}", "--window-size=%d,%d" % window_size] if screenshot else ["--dump-dom"]
    command = [chromium] + FLAGS + [f"--user-data-dir={profile}"] + action + [url]
    # Its own session, so the whole process group (renderer, zygote) ends
    # with it even if it hangs.
    browser = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=child_env({"HOME": profile}), stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        out, err = browser.communicate(timeout=TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired as error:
        raise AssertionError(f"chromium did not render {url} in {TIMEOUT_SECONDS}s") from error
    finally:
        try:
            os.killpg(browser.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if browser.poll() is None:
            browser.communicate(timeout=10)
    if screenshot:
        with open(screenshot, "rb") as file:
            testcase.assertEqual(file.read(8), PNG_MAGIC, err[-2000:])
    else:
        testcase.assertIn("<html", out, err[-2000:])
    return out, CONSOLE.findall(err)
