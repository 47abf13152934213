"""Open a report in a real browser: headless Chromium, offline, driven over the DevTools protocol.

A report is handed to a working group as one HTML file that must open on a laptop without a
network. What a reader sees is what Chromium makes of it, so this opens it the same way: Debian's
``chromium`` in headless mode, at a 1280 px wide window, with every route out blocked (a proxy at
127.0.0.1:9 that nothing listens on, and no host names resolve). The DevTools protocol runs over a
pipe (``--remote-debugging-pipe``: no port, no extra Python package) and records what a reader's
console would show: script errors, console errors, every request the page makes and which images
failed to decode. :meth:`Browser.check` returns a :class:`PageCheck` with those findings and the
page's width (``document.documentElement.scrollWidth``); with ``screenshot=`` it also saves the
whole page as a PNG.
"""

from __future__ import annotations

import base64
import fcntl
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from twin.errors import TwinError

#: where Debian's ``chromium`` package puts the browser (``TWIN_CHROMIUM`` overrides)
CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
WIDTH, HEIGHT = 1280, 900
#: the tallest screenshot taken in one piece (Chromium's texture limit is 16,384 px)
MAX_SHOT_HEIGHT = 16_000

# what the page reports about itself once loaded: images that did not decode, and what sticks out to the right
_PROBE = """(() => {
  const imgs = [...document.images];
  const broken = imgs.filter(i => !i.complete || i.naturalWidth === 0)
                     .map(i => (i.getAttribute('alt') || i.currentSrc.slice(0, 60) || '<img>'));
  const w = document.documentElement.clientWidth;
  const wide = [...document.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > w + 0.5)
    .filter(e => !(e.parentElement && e.parentElement.getBoundingClientRect().right > w + 0.5))
    .slice(0, 10)
    .map(e => `${e.tagName.toLowerCase()}${e.className ? '.' + e.className : ''}` +
              ` (right edge ${Math.round(e.getBoundingClientRect().right)} px)`);
  return {images: imgs.length, broken, scrollWidth: document.documentElement.scrollWidth,
          clientWidth: w, height: document.documentElement.scrollHeight, wide};
})()"""


class BrowserUnavailable(TwinError):
    """No Chromium to open the report with, or it failed to start."""

    exit_code = 2


@dataclass
class PageCheck:
    """What opening one page showed."""

    path: Path
    width: int  # the window's width (CSS px)
    scroll_width: int  # document.documentElement.scrollWidth
    height: int
    images: int
    broken_images: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)  # requests other than the page itself (data: URLs excepted)
    overflowing: list[str] = field(default_factory=list)  # outermost elements past the right edge
    screenshot: Path | None = None

    @property
    def overflows(self) -> bool:
        return self.scroll_width > self.width

    def problems(self) -> list[str]:
        """One line per finding; empty when the page is clean."""
        out = [f"console error: {e}" for e in self.console_errors]
        out += [f"broken image: {b}" for b in self.broken_images]
        out += [f"network request: {r}" for r in self.requests]
        if self.overflows:
            out.append(f"horizontal overflow: scrollWidth {self.scroll_width} px > {self.width} px; "
                       f"past the edge: {', '.join(self.overflowing) or '?'}")  # fmt: skip
        return out


def find_chromium() -> str:
    """The Chromium executable (``TWIN_CHROMIUM``, else the first of :data:`CANDIDATES` on ``PATH``)."""
    env = os.environ.get("TWIN_CHROMIUM")
    if env:
        if not (Path(env).is_file() and os.access(env, os.X_OK)):
            raise BrowserUnavailable(f"TWIN_CHROMIUM: {env!r} is not an executable file")
        return env
    for name in CANDIDATES:
        if found := shutil.which(name):
            return found
    raise BrowserUnavailable("no Chromium found on PATH: install the Debian package chromium (make sysdeps does)")


class Browser:
    """``with Browser() as b: b.check(Path("reports/x/index.html"))``: one headless Chromium for many pages."""

    def __init__(self, executable: str | None = None, timeout: float = 60.0) -> None:
        self.executable = executable or find_chromium()
        self.timeout = timeout
        self._next = 0
        self._buf = b""
        self._events: list[dict[str, Any]] = []
        self._proc: subprocess.Popen | None = None
        self._w = self._r = -1  # our ends of the DevTools pipe
        self._profile: str | None = None

    # -- the process and the pipe -------------------------------------------------------------

    def start(self) -> Browser:
        self._profile = tempfile.mkdtemp(prefix="twin-chromium-")
        to_child, self._w = os.pipe()  # commands: the browser reads them on its fd 3
        self._r, from_child = os.pipe()  # answers and events: it writes them on its fd 4
        args = [self.executable, "--headless", "--remote-debugging-pipe", f"--user-data-dir={self._profile}",
                "--no-first-run", "--no-default-browser-check", "--disable-gpu", "--disable-extensions",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-default-apps", "--disable-dev-shm-usage", "--disable-breakpad",
                "--disable-crash-reporter", "--mute-audio", "--hide-scrollbars",
                "--force-device-scale-factor=1", f"--window-size={WIDTH},{HEIGHT}",
                # offline: every request that leaves the machine goes to a proxy nobody runs, no name resolves
                "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost"]  # fmt: skip
        if os.geteuid() == 0:
            args.append("--no-sandbox")  # Chromium's sandbox refuses to run as root
        args.append("about:blank")

        def wire() -> None:  # in the child, before exec: the pipe ends on fds 3 and 4 (inheritable)
            a, b = fcntl.fcntl(to_child, fcntl.F_DUPFD, 10), fcntl.fcntl(from_child, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        try:  # close_fds=False: only fds 3 and 4 are inheritable (Python opens everything else non-inheritable)
            self._proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, close_fds=False, preexec_fn=wire)  # fmt: skip
        except OSError as e:
            self.stop()
            raise BrowserUnavailable(f"{self.executable}: could not start: {e}") from None
        finally:
            os.close(to_child)
            os.close(from_child)
        try:
            self._send("Browser.getVersion")
        except BrowserUnavailable:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                try:
                    self._send("Browser.close", timeout=10)
                except BrowserUnavailable:
                    pass
                try:
                    self._proc.wait(10)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait(10)
            self._proc = None
        for fd in (self._w, self._r):
            if fd >= 0:
                try:
                    os.close(fd)
                except OSError:
                    pass
        self._w = self._r = -1
        if self._profile is not None:
            shutil.rmtree(self._profile, ignore_errors=True)
            self._profile = None

    def __enter__(self) -> Browser:
        return self.start()

    def __exit__(self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _read(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise BrowserUnavailable(f"Chromium did not answer within {self.timeout:g} s")
            ready, _, _ = select.select([self._r], [], [], left)
            if ready:
                chunk = os.read(self._r, 1 << 20)
                if not chunk:
                    raise BrowserUnavailable(f"Chromium ({self.executable}) exited or closed its DevTools pipe")
                self._buf += chunk
        msg, self._buf = self._buf.split(b"\0", 1)
        return json.loads(msg)

    def _send(self, method: str, params: dict | None = None, session: str | None = None,
              timeout: float | None = None) -> dict[str, Any]:  # fmt: skip
        self._next += 1
        msg: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session is not None:
            msg["sessionId"] = session
        try:
            os.write(self._w, json.dumps(msg).encode() + b"\0")
        except OSError as e:
            raise BrowserUnavailable(f"Chromium ({self.executable}) is not running: {e}") from None
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            m = self._read(deadline)
            if m.get("id") == self._next:
                if "error" in m:
                    raise BrowserUnavailable(f"DevTools {method}: {m['error'].get('message', m['error'])}")
                return m.get("result", {})
            if "method" in m:
                self._events.append(m)

    def _wait_for(self, method: str, session: str) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            for m in self._events:
                if m.get("method") == method and m.get("sessionId") == session:
                    return
            m = self._read(deadline)
            if "method" in m:
                self._events.append(m)

    # -- pages --------------------------------------------------------------------------------

    def check(self, path: Path, width: int = WIDTH, screenshot: Path | None = None) -> PageCheck:
        """Open ``path`` offline at ``width`` CSS px; report errors, requests, broken images and overflow."""
        path = Path(path).resolve()
        if not path.is_file():
            raise BrowserUnavailable(f"{path}: no such report file")
        url = path.as_uri()
        target = self._send("Target.createTarget", {"url": "about:blank"})["targetId"]
        s = self._send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        try:
            self._events = [e for e in self._events if e.get("sessionId") != s]
            for domain in ("Page", "Runtime", "Log", "Network"):
                self._send(f"{domain}.enable", session=s)
            self._send("Emulation.setDeviceMetricsOverride",
                       {"width": width, "height": HEIGHT, "deviceScaleFactor": 1, "mobile": False}, s)  # fmt: skip
            self._send("Page.navigate", {"url": url}, s)
            self._wait_for("Page.loadEventFired", s)
            self._send("Runtime.evaluate", {"expression": "document.fonts.ready.then(() => true)",
                                            "awaitPromise": True}, s)  # fmt: skip
            probe = self._send("Runtime.evaluate", {"expression": _PROBE, "returnByValue": True}, s)["result"]["value"]
            check = PageCheck(path=path, width=width, scroll_width=int(probe["scrollWidth"]),
                              height=int(probe["height"]), images=int(probe["images"]),
                              broken_images=list(probe["broken"]), overflowing=list(probe["wide"]))  # fmt: skip
            if screenshot is not None:
                check.screenshot = self._shoot(s, width, check.height, screenshot)
            self._collect(s, url, check)
            return check
        finally:
            self._send("Target.closeTarget", {"targetId": target})
            self._events = [e for e in self._events if e.get("sessionId") != s]

    def _shoot(self, session: str, width: int, height: int, out: Path) -> Path:
        h = max(1, min(height, MAX_SHOT_HEIGHT))
        self._send("Emulation.setDeviceMetricsOverride",
                   {"width": width, "height": h, "deviceScaleFactor": 1, "mobile": False}, session)  # fmt: skip
        shot = self._send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": False,
                                                     "clip": {"x": 0, "y": 0, "width": width, "height": h,
                                                              "scale": 1}}, session)  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_bytes(base64.b64decode(shot["data"]))
        tmp.replace(out)
        return out

    def _collect(self, session: str, url: str, check: PageCheck) -> None:
        for m in self._events:
            if m.get("sessionId") != session:
                continue
            p = m.get("params", {})
            method = m["method"]
            if method == "Runtime.exceptionThrown":
                d = p.get("exceptionDetails", {})
                check.console_errors.append(d.get("exception", {}).get("description") or d.get("text", "exception"))
            elif method == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                check.console_errors.append(" ".join(str(a.get("value", a.get("description", "")))
                                                     for a in p.get("args", [])))  # fmt: skip
            elif method == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                e = p["entry"]
                check.console_errors.append(f"{e.get('source', '')}: {e.get('text', '')} {e.get('url', '')}".strip())
            elif method == "Network.requestWillBeSent":
                u = p.get("request", {}).get("url", "")
                if u != url and not u.startswith("data:"):
                    check.requests.append(u)




def screenshot_report(html: Path, width: int = WIDTH) -> tuple[Path, PageCheck]:
    """Save ``screenshot-<width>.png`` of a report beside its ``index.html``; return it and what the page showed."""
    html = Path(html)
    with Browser() as b:
        check = b.check(html, width=width, screenshot=html.parent / f"screenshot-{width}.png")
    assert check.screenshot is not None
    return check.screenshot, check


__all__ = ["Browser", "BrowserUnavailable", "PageCheck", "find_chromium", "screenshot_report"]
