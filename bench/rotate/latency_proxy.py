"""A latency proxy in front of moto for the rotate benchmark: the cycle benchmark's counting
proxy (`../cycle/count_proxy.py`: forwards every request unchanged, one line `service action`
per request appended to a log) that first sleeps a fixed time per request, standing for the
round trip to real AWS. moto answers in a few milliseconds and serializes its work; the sleep
is what concurrent calls can overlap, as they would against AWS.

usage: latency_proxy.py UPSTREAM_URL LOG_FILE PORT_FILE DELAY_MS
Listens on a free loopback port and writes it to PORT_FILE once it accepts connections. One
thread per client connection (ThreadingHTTPServer), each with its own upstream connection, so
16 concurrent connections sleep at once.

`GET /__bench/stats` on the proxy answers (and resets) its counters since the last such call:
calls, the peak of calls in flight at once, and the summed seconds of the calls (`busy_s`: in
the proxy, sleep included; `upstream_s`: forwarding to moto and answering, i.e. moto's share,
also by action).
busy_s / wall time is the mean number of calls in flight.
"""

import http.server
import json
import os
import sys
import threading
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "cycle"))

import count_proxy  # noqa: E402  (the cycle benchmark's proxy, unchanged)

STATS_PATH = "/__bench/stats"


class Stats:
    """What the proxy saw since the last reset: calls, the most calls in flight at once, and the
    summed time of the calls (in the proxy, and of it forwarding to moto and answering)."""

    lock = threading.Lock()
    in_flight = 0
    peak = 0
    calls = 0
    busy_s = 0.0
    upstream_s = 0.0
    by_action: dict = {}
    since = time.monotonic()

    @classmethod
    def read_and_reset(cls) -> dict:
        with cls.lock:
            now = time.monotonic()
            out = {
                "calls": cls.calls,
                "peak_in_flight": cls.peak,
                "busy_s": round(cls.busy_s, 3),
                "upstream_s": round(cls.upstream_s, 3),
                "seconds": round(now - cls.since, 3),
                "upstream_s_by_action": {
                    action: round(seconds, 3)
                    for action, seconds in sorted(cls.by_action.items(), key=lambda kv: -kv[1])
                },
            }
            cls.calls, cls.busy_s, cls.upstream_s, cls.by_action = 0, 0.0, 0.0, {}
            cls.peak, cls.since = cls.in_flight, now
        return out


class LatencyProxy(count_proxy.Proxy):
    delay_s = 0.0

    def forward(self):
        if self.path.startswith(STATS_PATH):
            return self.answer_stats()
        start = forwarded = time.monotonic()
        self.action = "?"
        with Stats.lock:
            Stats.in_flight += 1
            Stats.peak = max(Stats.peak, Stats.in_flight)
        try:
            # Before the body is read and the call forwarded: the request's time on the wire.
            time.sleep(self.delay_s)
            forwarded = time.monotonic()
            super().forward()
        finally:
            end = time.monotonic()
            with Stats.lock:
                Stats.in_flight -= 1
                Stats.calls += 1
                Stats.busy_s += end - start
                Stats.upstream_s += end - forwarded
                Stats.by_action[self.action] = Stats.by_action.get(self.action, 0.0) + end - forwarded
        return None

    def read_body(self) -> bytes:
        body = super().read_body()
        scope = count_proxy.SCOPE.search(self.headers.get("Authorization", ""))
        service = scope.group(1) if scope else "?"
        self.action = f"{service} {count_proxy.action_of(self.command, self.path, self.headers, body)}"
        return body

    def answer_stats(self):
        """`GET /__bench/stats`: the counters since the last such call, as JSON; then reset.
        Answered by the proxy itself, never forwarded or logged."""
        body = json.dumps(Stats.read_and_reset()).encode()
        self.send_response_only(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = forward


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    # A deeper listen backlog than the default 5: 16 jobs may connect at the same moment.
    request_queue_size = 128


def main(upstream: str, log_path: str, port_path: str, delay_ms: str) -> None:
    LatencyProxy.upstream = urllib.parse.urlsplit(upstream)
    LatencyProxy.log_path = log_path
    LatencyProxy.delay_s = float(delay_ms) / 1000.0
    server = Server(("127.0.0.1", 0), LatencyProxy)
    with open(port_path, "w", encoding="utf-8") as port_file:
        port_file.write(str(server.server_address[1]))
    server.serve_forever()


if __name__ == "__main__":
    if len(sys.argv) != 5:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    main(*sys.argv[1:])
