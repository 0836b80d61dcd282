#!/usr/bin/env python3
"""Drives Debian's Chromium (headless, through Debian's chromedriver and the
selenium WebDriver client from PyPI) against the wingress dashboard, for
tests/dashboard_lab.rs and benches/dashboard.sh. Nothing here downloads a
browser or a driver: both paths are given explicitly, and Selenium Manager
is told to stay offline.

    drive.py BASE_URL OUT_DIR STEP [ARG]

Steps (each prints one JSON object as its last stdout line):
  tour             every page at desktop and phone width (PNG screenshots in
                   OUT_DIR), then adds the device ARG (tags "phone") through the
                   form: {"whoami", "conf", "qr_png", "load_ms": {page: ms}}
  wait-connected   until the peers page shows peer ARG with a handshake, and
                   its live graph has drawn: {"handshake", "graph"}
  cross-site       a page on another origin (served here, on 127.0.0.1) posts
                   the add form with a valid token taken from the dashboard:
                   {"status_text", "body"}
  remove           removes the device ARG through its confirmation page:
                   {"rows": [peer names left]}
  read-only        {"banner", "forms"}: the read-only banner and form count
  load             opens ARG (default 5) tabs on the peers page and keeps them
                   live until stdin closes; prints {"tabs", "load_ms"} when open
"""

import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("CHROMEDRIVER", "/usr/bin/chromedriver")
DESKTOP = (1280, 900)
PHONE = (390, 844)
PAGES = ["overview", "peers", "routes", "certificates", "add"]
PATHS = {
    "overview": "/",
    "peers": "/peers",
    "routes": "/routes",
    "certificates": "/certificates",
    "add": "/peers/add",
}


def browser():
    os.environ["SE_OFFLINE"] = "true"
    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--hide-scrollbars",
        f"--window-size={DESKTOP[0]},{DESKTOP[1]}",
    ):
        opts.add_argument(arg)
    log = os.path.join(os.environ.get("OUT_DIR", "/tmp"), "chromedriver.log")
    service = Service(executable_path=CHROMEDRIVER, log_output=log)
    d = webdriver.Chrome(service=service, options=opts)
    d.set_page_load_timeout(60)
    return d


def size(d, wh):
    # Headless Chromium sizes the viewport through the device metrics; the
    # window size alone keeps the desktop layout's minimum width.
    d.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": wh[0], "height": wh[1], "deviceScaleFactor": 1, "mobile": wh == PHONE},
    )


def load_ms(d):
    return d.execute_script(
        "const n = performance.getEntriesByType('navigation')[0];"
        "return n ? Math.round(n.loadEventEnd - n.startTime) : null;"
    )


def shoot(d, out, name):
    for label, wh in (("desktop", DESKTOP), ("phone", PHONE)):
        size(d, wh)
        time.sleep(0.3)
        # The full page: as tall as the document at this width.
        height = d.execute_script(
            "return Math.max(document.body.scrollHeight, document.documentElement.scrollHeight);"
        )
        d.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride",
            {
                "width": wh[0],
                "height": max(wh[1], int(height)),
                "deviceScaleFactor": 1,
                "mobile": wh == PHONE,
            },
        )
        time.sleep(0.2)
        overflow = d.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth;"
        )
        if label == "phone" and overflow > 0:
            raise SystemExit(f"{name}: the page scrolls sideways at phone width ({overflow} px)")
        d.save_screenshot(os.path.join(out, f"{name}-{label}.png"))
    size(d, DESKTOP)


def text(d, css):
    return d.find_element(By.CSS_SELECTOR, css).text


def tour(d, base, out, name):
    result = {"load_ms": {}}
    for page in PAGES:
        d.get(base + PATHS[page])
        result["load_ms"][page] = load_ms(d)
        if page == "overview":
            result["whoami"] = text(d, "#whoami")
        if page == "peers":
            time.sleep(2.5)  # two events, so the graphs have a line
        shoot(d, out, page)
    d.get(base + "/peers/add")
    form = d.find_element(By.CSS_SELECTOR, "form#add-device")
    form.find_element(By.NAME, "name").send_keys(name)
    form.find_element(By.NAME, "tags").send_keys("phone")
    d.find_element(By.CSS_SELECTOR, "#add-submit").click()
    WebDriverWait(d, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "pre#client-conf"))
    result["conf"] = d.find_element(By.CSS_SELECTOR, "pre#client-conf").get_attribute("textContent")
    result["download"] = d.find_element(By.CSS_SELECTOR, "a#download-conf").get_attribute("download")
    shoot(d, out, "added")
    qr = os.path.join(out, "qr.png")
    with open(qr, "wb") as f:
        f.write(d.find_element(By.CSS_SELECTOR, "#qr").screenshot_as_png)
    result["qr_png"] = qr
    return result


def wait_connected(d, base, out, name):
    deadline = time.time() + 60
    while True:
        d.get(base + "/peers")
        cells = d.find_elements(By.CSS_SELECTOR, f'tr[data-peer="{name}"] .handshake')
        if cells and cells[0].text.strip() not in ("", "never"):
            break
        if time.time() > deadline:
            raise SystemExit(f"{name}: no handshake on the peers page: {cells and cells[0].text!r}")
        time.sleep(1)
    handshake = cells[0].text
    # The live graph draws from /events deltas: wait for a path with points.
    graph = ""
    deadline = time.time() + 20
    while time.time() < deadline:
        paths = d.find_elements(By.CSS_SELECTOR, f'tr[data-peer="{name}"] svg.graph path')
        ds = [p.get_attribute("d") or "" for p in paths]
        graph = " ".join(ds)
        # Each line (received, sent) has at least four points: three
        # events after the first drew it.
        if ds and all(d.count("L") >= 3 for d in ds):
            break
        time.sleep(0.5)
    else:
        raise SystemExit(f"{name}: the live graph did not draw from /events: {graph!r}")
    shoot(d, out, "peers-connected")
    return {"handshake": handshake, "graph": graph}


class EvilPage(http.server.BaseHTTPRequestHandler):
    """Another site: a form that posts to the dashboard as soon as it loads."""

    page = b""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(self.page)))
        self.end_headers()
        self.wfile.write(self.page)

    def log_message(self, *args):
        pass


def cross_site(d, base, out):
    d.get(base + "/peers/add")
    token = d.find_element(By.CSS_SELECTOR, "form#add-device input[name=csrf]").get_attribute("value")
    action = base + "/peers/add"
    EvilPage.page = (
        "<!doctype html><title>win a prize</title>"
        f'<form id="f" method="post" action="{action}">'
        '<input name="name" value="evil"><input name="tags" value="admin">'
        f'<input name="csrf" value="{token}"></form>'
        '<script>document.getElementById("f").submit()</script>'
    ).encode()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), EvilPage)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    d.get(f"http://127.0.0.1:{server.server_address[1]}/")
    WebDriverWait(d, 30).until(lambda d: d.current_url.startswith(base))
    time.sleep(0.5)
    body = d.find_element(By.TAG_NAME, "body").text
    d.save_screenshot(os.path.join(out, "cross-site.png"))
    server.shutdown()
    return {"url": d.current_url, "body": body}


def remove(d, base, out, name):
    d.get(base + "/peers")
    d.find_element(By.CSS_SELECTOR, f'tr[data-peer="{name}"] a.remove').click()
    WebDriverWait(d, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "form#remove-device"))
    shoot(d, out, "remove")
    d.find_element(By.CSS_SELECTOR, "#remove-submit").click()
    WebDriverWait(d, 30).until(lambda d: urllib.parse.urlparse(d.current_url).path == "/peers")
    rows = [r.get_attribute("data-peer") for r in d.find_elements(By.CSS_SELECTOR, "tr[data-peer]")]
    return {"rows": rows}


def read_only(d, base, out):
    d.get(base + "/peers")
    banner = d.find_elements(By.CSS_SELECTOR, "#read-only")
    # Read now: the element is stale once the next page loads.
    banner = banner[0].text if banner else None
    forms = len(d.find_elements(By.CSS_SELECTOR, "form"))
    d.get(base + "/peers/add")
    forms += len(d.find_elements(By.CSS_SELECTOR, "form"))
    shoot(d, out, "read-only")
    return {"banner": banner, "forms": forms}


def load(d, base, tabs):
    times = []
    for i in range(tabs):
        if i:
            d.switch_to.new_window("tab")
        d.get(base + "/peers")
        times.append(load_ms(d))
    print(json.dumps({"tabs": tabs, "load_ms": times}), flush=True)
    sys.stdin.read()
    return None


def main():
    base, out, step = sys.argv[1].rstrip("/"), sys.argv[2], sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else None
    os.makedirs(out, exist_ok=True)
    os.environ["OUT_DIR"] = out
    d = browser()
    try:
        if step == "tour":
            result = tour(d, base, out, arg)
        elif step == "wait-connected":
            result = wait_connected(d, base, out, arg)
        elif step == "cross-site":
            result = cross_site(d, base, out)
        elif step == "remove":
            result = remove(d, base, out, arg)
        elif step == "read-only":
            result = read_only(d, base, out)
        elif step == "load":
            result = load(d, base, int(arg or 5))
        else:
            raise SystemExit(f"unknown step {step}")
        if result is not None:
            print(json.dumps(result), flush=True)
    finally:
        d.quit()


if __name__ == "__main__":
    main()
