"""A counting HTTP proxy in front of moto for the cycle benchmark: forwards every request
unchanged and appends one line `service action` per request to a log, so a run's AWS API calls
can be counted by action.

usage: count_proxy.py UPSTREAM_URL LOG_FILE PORT_FILE
Listens on a free loopback port and writes it to PORT_FILE once it accepts connections.

The action is read the way AWS services carry it: the `Action` field of a query-protocol form
body (CloudFormation, EC2, ELBv2, Auto Scaling, CloudWatch), the `X-Amz-Target` header of a JSON
protocol call (SSM), otherwise the method and the first path segments (Route 53's REST calls).
The service is the signing scope in the Authorization header.
"""

import http.client
import http.server
import re
import socket
import sys
import threading
import urllib.parse

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "proxy-connection"}
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([^/]+)/aws4_request")


def action_of(method: str, path: str, headers, body: bytes) -> str:
    target = headers.get("X-Amz-Target")
    if target:
        return target.split(".")[-1]
    content_type = headers.get("Content-Type", "")
    if body and "x-www-form-urlencoded" in content_type:
        fields = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        if "Action" in fields:
            return fields["Action"][0]
    query = urllib.parse.urlsplit(path).query
    if query:
        fields = urllib.parse.parse_qs(query)
        if "Action" in fields:
            return fields["Action"][0]
    segments = [s for s in urllib.parse.urlsplit(path).path.split("/") if s][:3]
    # Route 53 ids vary per call; keep the shape of the path only.
    shape = "/".join(s if not re.search(r"\d", s) or s == "2013-04-01" else "{id}" for s in segments)
    return f"{method} /{shape}"


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes: without this, Nagle's algorithm and delayed
    # ACKs add 40 ms to some calls.
    disable_nagle_algorithm = True
    upstream: urllib.parse.SplitResult
    log_lock = threading.Lock()
    log_path = ""
    local = threading.local()

    def log_message(self, *args):
        pass

    def connection_upstream(self) -> http.client.HTTPConnection:
        conn = getattr(self.local, "conn", None)
        if conn is None:
            conn = http.client.HTTPConnection(self.upstream.hostname, self.upstream.port, timeout=120)
            conn.connect()
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.local.conn = conn
        return conn

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length", 0) or 0)
        return self.rfile.read(length) if length else b""

    def forward(self):
        body = self.read_body()
        scope = SCOPE.search(self.headers.get("Authorization", ""))
        service = scope.group(1) if scope else "?"
        line = f"{service} {action_of(self.command, self.path, self.headers, body)}\n"
        # Opened per request, so that the benchmark can move the log away between runs.
        with self.log_lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(line)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        headers["Content-Length"] = str(len(body))
        for attempt in range(2):
            conn = self.connection_upstream()
            try:
                conn.request(self.command, self.path, body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
                break
            except (http.client.HTTPException, ConnectionError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise
        self.send_response_only(response.status, response.reason)
        for key, value in response.getheaders():
            if key.lower() not in HOP_BY_HOP and key.lower() != "content-length":
                self.send_header(key, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = forward


def main(upstream: str, log_path: str, port_path: str) -> None:
    Proxy.upstream = urllib.parse.urlsplit(upstream)
    Proxy.log_path = log_path
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    server.daemon_threads = True
    with open(port_path, "w", encoding="utf-8") as port_file:
        port_file.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
