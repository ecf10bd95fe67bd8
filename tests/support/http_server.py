#!/usr/bin/env python3
"""A DVC-protocol HTTP remote for Ferry's tests, with faults switchable at runtime.

Speaks what dvc-http speaks (dvc-format.md section 6): GET/HEAD read an object, POST or PUT
(chunked or with Content-Length) store it at its final URL, DELETE removes it. URL path /a/b is
the file ROOT/a/b. Stdlib only; binds 127.0.0.1; prints "PORT <n>" on stdout once listening.

usage: http_server.py --root DIR [--port 0] [--user U --password P] [--auth-header NAME --password P]
       http_server.py --upstream http://127.0.0.1:8333 [--port 0]

With --upstream it is a fault-injecting proxy in front of an S3 server (SeaweedFS): requests and
their headers (Host included, so SigV4 signatures stay valid) are relayed unchanged, and the same
faults apply, shaped like B2's answers. LIST requests (a GET with `list-type=`) are never capped:
B2 bills them as Class C.

Control (never authenticated, never logged):
  POST /__control  JSON object, merged into the fault state; keys:
      cap: bool          GET -> 403 with B2's cap XML, HEAD -> bare 403 (uploads still work)
      cap_after_bytes: int   cap turns on once this many object bytes have been served by GETs
      auth_fail: bool    every object request -> 401
      fail_500: int      the next N object requests -> 500
      throttle: int      the next N object requests -> 429 with Retry-After: retry_after
      slowdown: int      the next N object requests -> 503 SlowDown (S3 XML) with Retry-After
      retry_after: num   seconds sent with 429/503 (default 1); null sends no Retry-After
      truncate: bool     GET bodies stop half-way (Content-Length says the full size), connection closed
      die_after: int     GET bodies stop after this many bytes, connection closed
      corrupt: bool      GET bodies have their first byte flipped (same length)
      slow: num          seconds to wait before answering any object request
      chaos: {"seed": int, "rate": num}   each GET/HEAD of an object (never a LIST) draws, from a
                         random.Random(seed), a fault with probability rate: 500, 429 or 503 with
                         Retry-After (retry_after), or for a GET a body cut half-way or flipped;
                         with "kinds": [...] the draw is among those instead, which may also be
                         "reset" (connection closed, no answer) and, for a GET, "stall" (half the
                         body, then silence for `stall` seconds, then closed)
      stall: num         seconds a "stall" chaos body stays silent (default 5)
      html_page: bool    every object request -> 200 with an HTML login page (Content-Type: text/html)
      trickle: num       GET bodies are sent one byte every `trickle` seconds
      endless: bool      GET bodies are chunked (no Content-Length) and repeat the object forever
      fail_part: int     (proxy) every upload of this multipart part number -> 500
      no_head: bool      every HEAD of an object -> 405 Method Not Allowed (as some servers)
      cut_once: int      the next GET body (200 or 206) stops after this many bytes, connection
                         closed; then off again
      rate: num          GET bodies (200 and 206) are sent at about this many bytes a second
      ignore_range: bool Range headers are ignored: GETs answer 200 with the whole object (as a
                         proxy, the Range header is not relayed)
      reset: true        back to no faults;  clear_log: true  empties the log
  GET /__log       JSON list of {"method", "path", "status", "range", "t", "t0"} for every
                   object request ("range": its Range header, or null; "t0" when it arrived,
                   "t" when it was answered)
  A GET with `Range: bytes=A-B` (or `A-`) is answered 206 with that slice and Content-Range
  (relayed as a proxy, counted in "served", with cut_once and rate applied).
  The control answer is the fault state, with "served": object bytes sent by GETs so far (cut
  bodies count what was sent).
"""
import argparse
import base64
import http.client
import json
import os
import random
import secrets
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

B2_CAP_BODY = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<Error>\n'
    b"    <Code>AccessDenied</Code>\n"
    b"    <Message>Cannot download file, download bandwidth or transaction (Class B) cap "
    b"exceeded. See the Caps &amp; Alerts page to increase your cap.</Message>\n</Error>\n"
)
SLOWDOWN_BODY = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    b"<Message>Please reduce your request rate.</Message></Error>\n"
)
NO_FAULTS = {
    "cap": False, "cap_after_bytes": None, "served": 0, "auth_fail": False, "fail_500": 0,
    "throttle": 0, "slowdown": 0, "retry_after": 1, "truncate": False, "die_after": None,
    "corrupt": False, "slow": 0, "html_page": False, "trickle": 0, "endless": False,
    "fail_part": None, "chaos": None, "no_head": False, "stall": 5,
    "cut_once": None, "rate": 0, "ignore_range": False,
}
CHAOS_STATUS = ("500", "429", "503")
CHAOS_BODY = ("truncate", "flip")
CHAOS_GET_ONLY = ("truncate", "flip", "stall")
LOGIN_PAGE = (
    b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>"
    b"<form method=post action=/login><input name=user><input name=password type=password>"
    b"<button>Sign in</button></form></body></html>\n"
)
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection"}

LOCK = threading.Lock()
STATE = dict(NO_FAULTS)
LOG = []
ARGS = None
RNG = random.Random(0)


def byte_range(header, size):
    """(start, end) of a `bytes=A-B` or `bytes=A-` Range header, end exclusive; None for no
    header or one this server does not take (several ranges, suffix ranges)."""
    if not header or not header.startswith("bytes=") or "," in header:
        return None
    first, _, last = header[len("bytes="):].partition("-")
    if not first.isdigit() or (last and not last.isdigit()):
        return None
    start = int(first)
    end = min(int(last) + 1, size) if last else size
    return start, max(end, start)


def retry_after_header(state):
    """The Retry-After header of a throttling answer; none when retry_after is null."""
    if state["retry_after"] is None:
        return {}
    return {"Retry-After": str(state["retry_after"])}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "ferry-test-http"

    def log_message(self, fmt, *args):  # quiet: tests read /__log instead
        pass

    # --- plumbing ---------------------------------------------------------------------
    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            out = bytearray()
            while True:
                line = self.rfile.readline()
                if not line:  # the client gave up before the last chunk: not an upload
                    raise ConnectionResetError("chunked body ended early")
                size = int(line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return bytes(out)
                chunk = self.rfile.read(size)
                if len(chunk) < size:
                    raise ConnectionResetError("chunked body ended early")
                out += chunk
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n) if n else b""
        if len(data) < n:
            raise ConnectionResetError("body shorter than Content-Length")
        return data

    def answer(self, status, body=b"", headers=None, head=False):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and not head:
            self.wfile.write(body)

    def record(self, status):
        with LOCK:
            LOG.append({"method": self.command, "path": self.path, "status": status,
                        "range": self.headers.get("Range"), "t": time.time(),
                        "t0": getattr(self, "arrived", None)})

    def target(self):
        rel = self.path.split("?", 1)[0].lstrip("/")
        parts = [p for p in rel.split("/") if p]
        if not parts or any(p in (".", "..") or "\0" in p for p in parts):
            return None
        return os.path.join(ARGS.root, *parts)

    def authorized(self):
        if ARGS.user is not None:
            token = base64.b64encode(f"{ARGS.user}:{ARGS.password}".encode()).decode()
            return self.headers.get("Authorization") == f"Basic {token}"
        if ARGS.auth_header is not None:
            return self.headers.get(ARGS.auth_header) == ARGS.password
        return True

    # --- control ----------------------------------------------------------------------
    def control(self):
        if self.command == "GET" and self.path == "/__log":
            with LOCK:
                body = json.dumps(LOG).encode()
            self.answer(200, body, {"Content-Type": "application/json"})
            return True
        if self.command == "POST" and self.path == "/__control":
            update = json.loads(self.read_body() or b"{}")
            with LOCK:
                if update.pop("reset", False):
                    STATE.clear()
                    STATE.update(NO_FAULTS)
                if update.pop("clear_log", False):
                    LOG.clear()
                if update.get("chaos"):
                    RNG.seed(update["chaos"]["seed"])
                STATE.update(update)
                body = json.dumps(STATE).encode()
            self.answer(200, body, {"Content-Type": "application/json"})
            return True
        return False

    # --- objects ----------------------------------------------------------------------
    def fault(self):
        """The fault answer for this request, as (status, body, headers), or None."""
        with LOCK:
            s = STATE
            if s["auth_fail"] or not self.authorized():
                return 401, b"Unauthorized", {"WWW-Authenticate": 'Basic realm="ferry-test"'}
            if s["fail_500"] > 0:
                s["fail_500"] -= 1
                return 500, b"Internal Server Error (injected)", {}
            if s["throttle"] > 0:
                s["throttle"] -= 1
                return 429, b"Too Many Requests (injected)", retry_after_header(s)
            if s["slowdown"] > 0:
                s["slowdown"] -= 1
                return 503, SLOWDOWN_BODY, retry_after_header(s)
            if s["no_head"] and self.command == "HEAD":
                return 405, b"", {"Allow": "GET, POST, PUT, DELETE"}
            if s["html_page"]:
                return 200, LOGIN_PAGE, {"Content-Type": "text/html; charset=utf-8"}
            if (s["fail_part"] is not None and self.command == "PUT"
                    and f"partNumber={s['fail_part']}" in urlsplit(self.path).query.split("&")):
                return 500, b"Internal Server Error (injected part failure)", {}
            capped = s["cap"] or (
                s["cap_after_bytes"] is not None and s["served"] >= s["cap_after_bytes"])
            if capped and self.command in ("GET", "HEAD") and not self.is_list():
                return 403, (b"" if self.command == "HEAD" else B2_CAP_BODY), {}
            chaos = s["chaos"]
            if chaos and self.command in ("GET", "HEAD") and not self.is_list():
                if RNG.random() < chaos["rate"]:
                    if chaos.get("kinds"):
                        kinds = tuple(k for k in chaos["kinds"]
                                      if self.command == "GET" or k not in CHAOS_GET_ONLY)
                    else:
                        kinds = CHAOS_STATUS + (CHAOS_BODY if self.command == "GET" else ())
                    kind = RNG.choice(kinds)
                    if kind == "500":
                        return 500, b"Internal Server Error (chaos)", {}
                    if kind == "429":
                        return 429, b"Too Many Requests (chaos)", retry_after_header(s)
                    if kind == "503":
                        return 503, SLOWDOWN_BODY, retry_after_header(s)
                    self.body_fault = kind
        return None

    def is_list(self):
        return "list-type=" in urlsplit(self.path).query

    def served(self, n):
        with LOCK:
            STATE["served"] += n

    def forward(self, body):
        """Relays the request to the upstream S3 server; returns (status, headers, body)."""
        up = urlsplit(ARGS.upstream)
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=120)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            with LOCK:
                ignore_range = STATE["ignore_range"]
            for k, v in self.headers.items():
                if k.lower() in HOP_BY_HOP or (ignore_range and k.lower() == "range"):
                    continue
                conn.putheader(k, v)
            if self.command in ("POST", "PUT") or body:
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            if self.command == "HEAD":
                length = resp.getheader("Content-Length")
                if length is not None:
                    headers.append(("Content-Length", length))
            return resp.status, headers, data
        finally:
            conn.close()

    def handle_object(self):
        self.arrived = time.time()
        self.body_fault = None
        body = self.read_body() if self.command in ("POST", "PUT") else b""
        with LOCK:
            slow = STATE["slow"]
        if slow:
            time.sleep(slow)
        fault = self.fault()
        if fault:
            status, fbody, headers = fault
            self.record(status)
            self.answer(status, fbody, headers, head=self.command == "HEAD")
            return
        if self.body_fault == "reset":
            self.record(0)
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if ARGS.upstream:
            status, headers, data = self.forward(body)
            if self.command == "GET" and status == 200 and not self.is_list():
                self.send_bytes(data, headers)
            elif self.command == "GET" and status == 206:
                self.record(206)
                self.send_paced(206, headers, data)
            else:
                self.record(status)
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                if self.command != "HEAD":
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(data)
            return
        path = self.target()
        if path is None:
            self.record(400)
            self.answer(400, b"bad path")
        elif self.command in ("GET", "HEAD"):
            self.send_object(path)
        elif self.command in ("POST", "PUT"):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = os.path.join(os.path.dirname(path), f".{secrets.token_urlsafe(16)}.tmp")
            with open(tmp, "wb") as f:
                f.write(body)
            os.replace(tmp, path)
            self.record(201)
            self.answer(201)
        elif self.command == "DELETE":
            try:
                os.remove(path)
                self.record(204)
                self.answer(204)
            except FileNotFoundError:
                self.record(404)
                self.answer(404, b"Not Found")

    def send_object(self, path):
        head = self.command == "HEAD"
        if not os.path.isfile(path):
            self.record(404)
            self.answer(404, b"Not Found", head=head)
            return
        with open(path, "rb") as f:
            data = f.read()
        if head:
            self.record(200)
            self.answer(200, data, {"Content-Type": "application/octet-stream"}, head=True)
            return
        wanted = byte_range(self.headers.get("Range"), len(data))
        with LOCK:
            if STATE["ignore_range"]:
                wanted = None
        if wanted is not None:
            self.send_range(data, wanted)
            return
        self.send_bytes(data, [("Content-Type", "application/octet-stream")])

    def send_range(self, data, wanted):
        """A 206 answer with `data[start:end]`, or 416 when the range starts past the end."""
        start, end = wanted
        if start >= len(data):
            self.record(416)
            self.answer(416, b"", {"Content-Range": f"bytes */{len(data)}"})
            return
        part = data[start:end]
        self.record(206)
        headers = [("Content-Type", "application/octet-stream"),
                   ("Content-Range", f"bytes {start}-{start + len(part) - 1}/{len(data)}")]
        self.send_paced(206, headers, part)

    def take_cut_once(self):
        """The byte count of a pending `cut_once` fault (which is then used up), or None."""
        with LOCK:
            cut, STATE["cut_once"] = STATE["cut_once"], None
        return cut

    def send_paced(self, status, headers, data, cut=None):
        """An answer with `data` as its body (Content-Length its full size), sent at `rate`
        bytes a second when set, stopped after `cut` (or a pending cut_once) bytes with the
        connection closed; every byte sent is counted in "served"."""
        with LOCK:
            rate = STATE["rate"]
        pending = self.take_cut_once()
        if pending is not None:
            cut = pending if cut is None else min(cut, pending)
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        stop = len(data) if cut is None else min(cut, len(data))
        piece = 65536
        sent = 0
        while sent < stop:
            n = min(piece, stop - sent)
            self.wfile.write(data[sent:sent + n])
            self.served(n)
            sent += n
            if rate:
                self.wfile.flush()
                time.sleep(n / rate)
        if stop < len(data):
            self.wfile.flush()
            self.close_connection = True
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def send_bytes(self, data, headers):
        """A 200 GET answer with the body faults applied (corrupt, truncate, die_after, trickle,
        endless)."""
        with LOCK:
            corrupt, truncate, die_after = STATE["corrupt"], STATE["truncate"], STATE["die_after"]
            trickle, endless = STATE["trickle"], STATE["endless"]
        corrupt = corrupt or self.body_fault == "flip"
        truncate = truncate or self.body_fault == "truncate"
        if endless:
            self.send_endless(data, headers)
            return
        if trickle:
            self.send_trickle(data, headers, trickle)
            return
        if corrupt and data:
            data = bytes([data[0] ^ 0xFF]) + data[1:]
        if self.body_fault == "stall":
            self.send_stall(data, headers)
            return
        cut = len(data) // 2 if truncate else None
        if die_after is not None:
            cut = min(die_after, len(data)) if cut is None else min(cut, die_after)
        with LOCK:
            paced = STATE["rate"] or STATE["cut_once"] is not None
        if paced:
            self.record(200)
            self.send_paced(200, headers, data, cut)
            return
        self.record(200)
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if cut is None or cut >= len(data):
            self.wfile.write(data)
            self.served(len(data))
            return
        self.wfile.write(data[:cut])
        self.wfile.flush()
        self.served(cut)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_stall(self, data, headers):
        """A 200 body that stops half-way and stays silent for `stall` seconds, then closes."""
        with LOCK:
            pause = STATE["stall"]
        half = len(data) // 2
        self.record(200)
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data[:half])
        self.wfile.flush()
        self.served(half)
        time.sleep(pause)
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def send_endless(self, data, headers):
        """A chunked 200 body that repeats `data` until the client hangs up."""
        self.record(200)
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        piece = (data or b"x") * max(1, 65536 // max(1, len(data)))
        frame = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
        self.close_connection = True
        while True:
            self.wfile.write(frame)
            self.served(len(piece))

    def send_trickle(self, data, headers, pause):
        """A 200 body sent one byte every `pause` seconds (Content-Length is the full size)."""
        self.record(200)
        self.send_response(200)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.close_connection = True
        for i in range(len(data)):
            self.wfile.write(data[i:i + 1])
            self.wfile.flush()
            self.served(1)
            time.sleep(pause)

    def dispatch(self):
        try:
            if not self.control():
                self.handle_object()
        except (BrokenPipeError, ConnectionResetError):
            # Clients drop the body of an existence GET, as dvc-http does.
            self.close_connection = True

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = dispatch


def exit_with_parent():
    """Stops the server when the test process that started it dies without stopping it (a
    killed test run must not leave servers behind)."""
    parent = os.getppid()
    while True:
        time.sleep(1)
        if os.getppid() != parent:
            os._exit(0)


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--root")
    ap.add_argument("--upstream")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--user")
    ap.add_argument("--password")
    ap.add_argument("--auth-header")
    ARGS = ap.parse_args()
    if not (ARGS.root or ARGS.upstream):
        ap.error("one of --root or --upstream is required")
    if ARGS.root:
        os.makedirs(ARGS.root, exist_ok=True)
    server = ThreadingHTTPServer(("127.0.0.1", ARGS.port), Handler)
    server.daemon_threads = True
    threading.Thread(target=exit_with_parent, daemon=True).start()
    print(f"PORT {server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
