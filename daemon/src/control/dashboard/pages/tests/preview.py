#!/usr/bin/env python3
"""Serves the pages the ignored `preview` test wrote, with the dashboard's
security headers (so Chromium enforces the same CSP) and a fake GET /events
(one event a second, after a minute of history at once so graphs fill).

    cargo test -p wingress --lib dashboard::pages::tests::preview -- --ignored
    preview.py [DIR] [PORT]        # DIR defaults to /tmp/dash-preview

Paths: / /peers /routes /certificates /peers/add /added /peers/tablet/remove
/message /forbidden, and the same under /ro/ for the read-only variant.
POST /peers/add answers the "added" page and POST /peers/NAME/remove a 303
to /peers, so tests/dashboard/drive.py's page steps run against it:

    drive.py http://127.0.0.1:8099 OUT tour phone
    drive.py http://127.0.0.1:8099 OUT remove tablet
    drive.py http://127.0.0.1:8099/ro OUT read-only
"""

import http.server
import json
import math
import os
import sys
import time

DIR = sys.argv[1] if len(sys.argv) > 1 else "/tmp/dash-preview"
PORT = int(sys.argv[2]) if len(sys.argv) > 2 else 8099
CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
       "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
PAGES = {
    "/": "overview", "/peers": "peers", "/routes": "routes", "/certificates": "certificates",
    "/peers/add": "add", "/added": "added", "/add-error": "add-error",
    "/peers/tablet/remove": "remove", "/peers/laptop/remove": "remove-self",
    "/message": "message", "/forbidden": "forbidden",
}
TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".svg": "image/svg+xml"}

with open(os.path.join(DIR, "status.json")) as f:
    STATUS = json.load(f)


START = time.time() - 120


def event(t_ms):
    """Counters at time t: each peer moves bytes at its own wavy rate."""
    s = t_ms / 1000.0 - START
    peers = {}
    for i, p in enumerate(STATUS["peers"]):
        if p.get("latest_handshake_secs") is None:
            peers[p["name"]] = {"rx": 0, "tx": 0, "hs": None, "endpoint": None}
            continue
        rate = (i + 1) * 40_000
        rx = p["rx_bytes"] + int(rate * s + rate * 4 * math.sin(s / (5 + i)))
        tx = p["tx_bytes"] + int(rate * 3 * s + rate * 6 * math.sin(s / (7 + i) + i))
        hs = (p["latest_handshake_secs"] + int(s)) % 120 if i != 2 else p["latest_handshake_secs"]
        peers[p["name"]] = {"rx": rx, "tx": tx, "hs": hs, "endpoint": p["endpoint"]}
    routes = []
    for i, r in enumerate(STATUS["routes"]):
        total = sum(r["stats"]["requests"])
        errors = r["stats"]["requests"][4]
        rps = [12, 85, 3, 0, 1][i % 5]
        routes.append({"requests": total + int(rps * s), "errors": errors + int(rps * s * 0.02 * (i == 1))})
    return {"t": int(t_ms), "peers": peers, "routes": routes}


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def headers_common(self):
        self.send_header("Content-Security-Policy", CSP)
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "same-origin")

    def do_GET(self):
        path = self.path.split("?")[0]
        if path == "/events":
            return self.events()
        prefix = ""
        if path.startswith("/ro/") or path == "/ro":
            prefix, path = "ro/", path[3:] or "/"
        if path.startswith("/assets/"):
            name = path[len("/assets/"):]
            file = os.path.join(DIR, "assets", name)
            ctype = TYPES.get(os.path.splitext(name)[1])
        elif path in PAGES:
            name = PAGES[path]
            file = os.path.join(DIR, (prefix if name != "forbidden" else "") + name + ".html")
            ctype = "text/html; charset=utf-8"
        else:
            file, ctype = None, None
        if not file or not ctype or not os.path.exists(file):
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        body = open(file, "rb").read()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.headers_common()
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        """Enough of the server for drive.py's steps: adding answers the
        "added" page, removing redirects to the peers page."""
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(min(length, 8192))
        path = self.path.split("?")[0]
        if path == "/peers/add":
            body = open(os.path.join(DIR, "added.html"), "rb").read()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.headers_common()
            self.end_headers()
            self.wfile.write(body)
        elif path.startswith("/peers/") and path.endswith("/remove"):
            self.send_response(303)
            self.send_header("Location", "/peers")
            self.send_header("Content-Length", "0")
            self.end_headers()
        else:
            self.send_response(404)
            self.send_header("Content-Length", "0")
            self.end_headers()

    def events(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.headers_common()
        self.end_headers()
        self.close_connection = True
        try:
            self.wfile.write(b"retry: 3000\n\n")
            now = time.time() * 1000
            for k in range(60, 0, -1):
                self.wfile.write(b"data: " + json.dumps(event(now - k * 1000)).encode() + b"\n\n")
            self.wfile.flush()
            while True:
                self.wfile.write(b"data: " + json.dumps(event(time.time() * 1000)).encode() + b"\n\n")
                self.wfile.flush()
                time.sleep(1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    server = http.server.ThreadingHTTPServer(("127.0.0.1", PORT), Handler)
    server.daemon_threads = True
    print(f"http://127.0.0.1:{PORT}/", flush=True)
    server.serve_forever()
