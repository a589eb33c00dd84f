"""A real headless Chromium (Debian's ``chromium``) driven over the DevTools protocol, to test pages
as a person sees them: open a URL, wait until the page shows something, collect its JavaScript
errors (uncaught exceptions, ``console.error``, errors the browser logs) and the URLs it requests,
read the DOM, take a screenshot. Bound to 127.0.0.1; the browser and its profile are removed on close.
"""

import base64
import itertools
import json
import shutil
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional

import pytest
from websockets.sync.client import connect

from tests.ci import missing

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> str:
    if CHROMIUM is None:
        missing("chromium is not installed (.ci/run installs Debian's chromium package)")
    return CHROMIUM


class Browser:
    """One headless Chromium with one page."""

    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.profile = Path(tempfile.mkdtemp(prefix="lp-chromium-"))
        command = [
            require_chromium(), "--headless", "--no-sandbox", "--no-first-run", "--disable-extensions",
            "--remote-debugging-address=127.0.0.1", "--remote-debugging-port=0", f"--user-data-dir={self.profile}",
            f"--window-size={width},{height}", "--hide-scrollbars",
            "--use-angle=swiftshader", "--enable-unsafe-swiftshader",  # software WebGL (plotly's parallel coordinates)
            "about:blank",
        ]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.errors: list[str] = []
        self.requests: list[str] = []  # every URL the page asked for
        self._ids = itertools.count(1)
        self._socket = connect(self._page_socket(), max_size=None, open_timeout=30)
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.call(f"{domain}.enable")

    def _page_socket(self, timeout: float = 60.0) -> str:
        deadline = time.monotonic() + timeout
        port_file = self.profile / "DevToolsActivePort"
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with code {self.process.returncode}")
            if port_file.is_file() and port_file.read_text().strip():
                port = int(port_file.read_text().split()[0])
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as answer:
                    pages = [t for t in json.load(answer) if t["type"] == "page"]
                if pages:
                    return pages[0]["webSocketDebuggerUrl"]
            time.sleep(0.2)
        raise TimeoutError("chromium did not open its DevTools port")

    def _event(self, message: dict) -> None:
        method, params = message.get("method"), message.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params["exceptionDetails"]
            self.errors.append(details.get("exception", {}).get("description") or details.get("text", ""))
        elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
            self.errors.append(" ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Network.requestWillBeSent":
            self.requests.append(params["request"]["url"])
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            self.errors.append(f"{params['entry'].get('source')}: {params['entry'].get('text')}")

    def call(self, method: str, params: Optional[dict] = None, timeout: float = 60.0) -> dict:
        ident = next(self._ids)
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while True:
            message = json.loads(self._socket.recv(timeout=max(0.1, deadline - time.monotonic())))
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message.get("result", {})
            self._event(message)

    def open(self, url: str) -> None:
        self.call("Page.navigate", {"url": url})

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 60.0) -> Any:
        """Polls ``expression`` until it is truthy; returns its value (TimeoutError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                value = self.evaluate(expression)
            except RuntimeError:  # the page is still loading (no body yet, say)
                value = None
            if value:
                return value
            time.sleep(0.5)
        raise TimeoutError(f"{expression!r} was still falsy after {timeout:.0f} s")

    def settle(self, seconds: float) -> None:
        """Lets the page run for ``seconds`` while its events are collected."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self.evaluate("1")
            time.sleep(0.25)

    def screenshot(self, path: Path, full_page: bool = True) -> Path:
        shot = self.call("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": full_page})
        path.write_bytes(base64.b64decode(shot["data"]))
        return path

    def dom(self) -> str:
        return self.evaluate("document.documentElement.outerHTML")

    def close(self) -> None:
        try:
            self._socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=20)
            shutil.rmtree(self.profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
