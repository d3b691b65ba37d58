"""Headless Chromium for tests that open tracetap's own pages (the flame
graph SVG now, the HTML report later): load a local file, run JavaScript
in it, collect every console error and uncaught exception, take a
screenshot.

It drives Chromium through the DevTools protocol over a pipe
(``--remote-debugging-pipe``: NUL-terminated JSON on fds 3 and 4), so it
needs no websocket, no port and no package beyond Debian's ``chromium``
(scripts/test_matrix.py installs it when it can). Network access is off:
a page that tried to fetch something would fail and say so.

    with Browser() as b:
        page = b.open(path)              # waits for the load event
        page.eval("document.title")      # returned by value
        page.screenshot(png_path)
        assert not page.errors           # console errors, exceptions

``chromium_path()`` returns None when there is no Chromium, for a
``pytest.skip`` with a clear reason.
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
from pathlib import Path
from typing import Any, Self

__all__ = ["Browser", "BrowserError", "Page", "chromium_path"]


class BrowserError(RuntimeError):
    """Chromium failed to start, answered with an error or timed out."""


def chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    return None


def _high_fd(fd: int) -> int:
    """fd moved to a number of 10 or more (the old one closed)."""
    new = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return new


class Page:
    """One tab: a target attached in flat mode (commands carry its
    sessionId)."""

    def __init__(self, browser: Browser, session: str) -> None:
        self.browser = browser
        self.session = session
        self.errors: list[str] = []      # console errors and exceptions
        self.console: list[str] = []     # every console message
        self.requests: list[str] = []    # URLs of every request (Network)
        self.dialogs: list[str] = []     # alert/confirm/prompt messages

    def send(self, method: str, params: dict[str, Any] | None = None,
             timeout: float = 30) -> dict[str, Any]:
        return self.browser.send(method, params, session=self.session,
                                 timeout=timeout)

    def eval(self, expression: str, timeout: float = 30) -> Any:
        """The value of a JavaScript expression (JSON-able, by value); an
        exception in it raises BrowserError."""
        r = self.send("Runtime.evaluate", {
            "expression": expression, "returnByValue": True,
            "awaitPromise": True}, timeout=timeout)
        if "exceptionDetails" in r:
            d = r["exceptionDetails"]
            text = d.get("exception", {}).get("description") or d.get("text")
            raise BrowserError(f"JavaScript error: {text}")
        return r["result"].get("value")

    def screenshot(self, path: str | os.PathLike[str]) -> Path:
        r = self.send("Page.captureScreenshot", {"format": "png"})
        out = Path(path)
        out.write_bytes(base64.b64decode(r["data"]))
        return out

    def _event(self, msg: dict[str, Any]) -> None:
        method, p = msg.get("method"), msg.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            self.errors.append("exception: " + str(
                d.get("exception", {}).get("description") or d.get("text")))
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", "")))
                            for a in p.get("args", []))
            self.console.append(f"{p.get('type')}: {text}")
            if p.get("type") in ("error", "assert"):
                self.errors.append(f"console.{p.get('type')}: {text}")
        elif method == "Network.requestWillBeSent":
            self.requests.append(p.get("request", {}).get("url", ""))
        elif method == "Page.javascriptDialogOpening":
            self.dialogs.append(p.get("message", ""))
            self.errors.append(f"dialog: {p.get('type')}: {p.get('message')}")
            self.browser.send_async("Page.handleJavaScriptDialog",
                                    {"accept": True}, session=self.session)
        elif method == "Log.entryAdded":
            e = p.get("entry", {})
            self.console.append(f"log {e.get('level')}: {e.get('text')}")
            if e.get("level") == "error":
                self.errors.append(f"log: {e.get('text')} ({e.get('url')})")


class Browser:
    """A headless Chromium of its own (temporary profile), ended on exit."""

    def __init__(self, width: int = 1280, height: int = 800) -> None:
        exe = chromium_path()
        if exe is None:
            raise BrowserError("no chromium on PATH")
        self.width, self.height = width, height
        self._profile = tempfile.TemporaryDirectory(prefix="tt-chromium-")
        cmd_r, self._cmd_w = os.pipe()     # we write, Chromium reads fd 3
        self._ev_r, ev_w = os.pipe()       # Chromium writes fd 4, we read
        # Above 4, so that the shell's moves below cannot clobber them.
        cmd_r, ev_w = (_high_fd(cmd_r), _high_fd(ev_w))
        args = [exe, "--headless=new", "--disable-gpu", "--no-sandbox",
                "--disable-dev-shm-usage", "--no-first-run",
                "--no-default-browser-check", "--disable-extensions",
                "--disable-background-networking", "--disable-sync",
                "--mute-audio", "--remote-debugging-pipe",
                f"--user-data-dir={self._profile.name}",
                f"--window-size={width},{height}", "about:blank"]
        # bash (dash takes single-digit fds only) puts the pipes on fds 3
        # and 4, where Chromium wants them.
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - kept open, closed in close()
        self.proc = subprocess.Popen(
            ["bash", "-c",
             f'exec "$@" 3<&{cmd_r} 4>&{ev_w} {cmd_r}<&- {ev_w}>&-',
             "bash", *args],
            pass_fds=(cmd_r, ev_w), stdin=subprocess.DEVNULL,
            stdout=self._log, stderr=self._log, start_new_session=True)
        os.close(cmd_r)
        os.close(ev_w)
        self._buf = b""
        self._next_id = 0
        self._pages: dict[str, Page] = {}
        try:
            self.send("Browser.getVersion", timeout=60)
        except BaseException:
            self.close()
            raise

    # -- protocol

    def send(self, method: str, params: dict[str, Any] | None = None, *,
             session: str | None = None, timeout: float = 30
             ) -> dict[str, Any]:
        mid = self.send_async(method, params, session=session)
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(deadline, method)
            if m.get("id") == mid:
                if "error" in m:
                    raise BrowserError(f"{method}: {m['error']}")
                return m.get("result", {})

    def send_async(self, method: str, params: dict[str, Any] | None = None,
                   *, session: str | None = None) -> int:
        """Sends a command without waiting for its answer (also from an
        event handler, which runs while another command waits); returns
        its id."""
        self._next_id += 1
        msg: dict[str, Any] = {"id": self._next_id, "method": method,
                               "params": params or {}}
        if session:
            msg["sessionId"] = session
        data = json.dumps(msg).encode() + b"\0"
        while data:
            n = os.write(self._cmd_w, data)
            data = data[n:]
        return self._next_id

    def wait_event(self, method: str, session: str | None,
                   timeout: float = 30) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(deadline, method)
            if m.get("method") == method and m.get("sessionId") == session:
                return m.get("params", {})

    def _recv(self, deadline: float, what: str) -> dict[str, Any]:
        while b"\0" not in self._buf:
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise BrowserError(f"no answer from chromium to {what} "
                                   f"(exit status {self.proc.poll()}): "
                                   f"{self._stderr_tail()}")
            ready, _, _ = select.select([self._ev_r], [], [], min(left, 1.0))
            if ready:
                chunk = os.read(self._ev_r, 1 << 20)
                if not chunk:
                    self.proc.wait(timeout=10)
                    continue
                self._buf += chunk
        raw, self._buf = self._buf.split(b"\0", 1)
        msg = json.loads(raw)
        page = self._pages.get(msg.get("sessionId", ""))
        if page is not None and "method" in msg:
            page._event(msg)
        return msg

    def _stderr_tail(self) -> str:
        self._log.seek(0)
        return self._log.read()[-2000:].decode(errors="replace")

    # -- pages

    def open(self, path: str | os.PathLike[str], timeout: float = 60) -> Page:
        """A new tab showing the local file `path`, after its load event."""
        url = Path(path).resolve().as_uri()
        tid = self.send("Target.createTarget", {"url": "about:blank"})
        session = self.send("Target.attachToTarget", {
            "targetId": tid["targetId"], "flatten": True})["sessionId"]
        page = Page(self, session)
        self._pages[session] = page
        for m in ("Runtime.enable", "Log.enable", "Page.enable",
                  "Network.enable"):
            page.send(m)
        page.send("Emulation.setDeviceMetricsOverride", {
            "width": self.width, "height": self.height,
            "deviceScaleFactor": 1, "mobile": False})
        nav = page.send("Page.navigate", {"url": url})
        if nav.get("errorText"):
            raise BrowserError(f"cannot open {url}: {nav['errorText']}")
        self.wait_event("Page.loadEventFired", session, timeout)
        return page

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.send("Browser.close", timeout=10)
            except (BrowserError, OSError):
                pass
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        for fd in (self._cmd_w, self._ev_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self._log.close()
        self._profile.cleanup()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
