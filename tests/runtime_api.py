"""Lambda's Runtime API on 127.0.0.1, and the function run under AWS's runtime client.

`Runtime` starts `python -m awslambdaric lambda_function.lambda_handler` (the
client the Lambda Python runtimes use) against a small Runtime API of its
own, hands it events one at a time, and keeps what a user would find in
CloudWatch Logs: the function's stdout, and the log records the client
frames on the telemetry descriptor Lambda gives it (_LAMBDA_TELEMETRY_LOG_FD),
each with the level its frame type carries.

Runtime API: https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
"""

import itertools
import json
import os
import queue
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import NamedTuple

REPO = Path(__file__).resolve().parents[1]
PREFIX = "/2018-06-01/runtime"
# What the console's Logging configuration sets: only the caller's env may set them.
_CONSOLE_VARS = ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL")

# awslambdaric's frame types: 0xA55A00xx, where xx encodes the record's level and format
# (awslambdaric/lambda_runtime_log_utils.py); the platform reads the level from it.
FRAME_LEVELS = {0x02: "NOTSET", 0x0A: "DEBUG", 0x0E: "INFO", 0x12: "WARN", 0x16: "ERROR", 0x1A: "FATAL"}


class Frame(NamedTuple):
    """One log record the runtime client framed: its level (Lambda's names) and its text."""

    level: str
    text: str


class _Api(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):   # quiet
        pass

    def _answer(self, status, body=b"", headers=()):
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        runtime = self.server.runtime
        if self.path != f"{PREFIX}/invocation/next":
            return self._answer(404)
        while not runtime.closed.is_set():
            try:
                request_id, body, deadline_ms = runtime.pending.get(timeout=0.2)
            except queue.Empty:
                continue
            return self._answer(200, body, [
                ("Lambda-Runtime-Aws-Request-Id", request_id),
                ("Lambda-Runtime-Deadline-Ms", str(deadline_ms)),
                ("Lambda-Runtime-Invoked-Function-Arn",
                 "arn:aws:lambda:us-east-1:123456789012:function:invalidator"),
                ("Content-Type", "application/json")])
        self._answer(500)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        parts = self.path[len(PREFIX):].strip("/").split("/")
        if parts == ["init", "error"]:
            self.server.runtime.answers.put(("init-error", None, json.loads(body or b"null")))
        elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            self.server.runtime.answers.put((parts[2], parts[1], json.loads(body or b"null")))
        else:
            return self._answer(404)
        self._answer(202)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass   # the runtime hung up when it was stopped


class Runtime:
    """The function in its own awslambdaric process, with the Logging configuration in *env*."""

    def __init__(self, env):
        self.pending, self.answers, self.closed = queue.Queue(), queue.Queue(), threading.Event()
        self.stdout, self.frames = [], []
        self._ids = itertools.count(1)
        self._server = _Server(("127.0.0.1", 0), _Api)
        self._server.runtime = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        read_fd, write_fd = os.pipe()
        self._process = subprocess.Popen(
            [sys.executable, "-m", "awslambdaric", "lambda_function.lambda_handler"], cwd=REPO,
            env={**{k: v for k, v in os.environ.items() if k not in _CONSOLE_VARS}, **env,
                 "_LAMBDA_TELEMETRY_LOG_FD": str(write_fd),
                 "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{self._server.server_address[1]}",
                 "AWS_LAMBDA_FUNCTION_NAME": "invalidator", "PYTHONUNBUFFERED": "1"},
            pass_fds=(write_fd,), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        os.close(write_fd)
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_frames, args=(read_fd,), daemon=True)]
        for reader in self._readers:
            reader.start()

    def invoke(self, event, budget_s=60, timeout=60):
        """Send *event*; return ("response" or "error", body), or ("init-error", body) if init failed."""
        request_id = f"00000000-0000-0000-0000-{next(self._ids):012d}"
        self.pending.put((request_id, json.dumps(event).encode(), int((time.time() + budget_s) * 1000)))
        kind, answered_id, body = self.answers.get(timeout=timeout)
        assert answered_id in (request_id, None), (answered_id, request_id)
        return kind, body

    def close(self):
        """Stop the process; return once everything it wrote has been read."""
        self.closed.set()
        if self._process.poll() is None:
            self._process.terminate()
        self.returncode = self._process.wait(timeout=30)
        for reader in self._readers:
            reader.join(timeout=30)
        self.stderr = self._process.stderr.read().decode()
        self._process.stderr.close()
        self._server.shutdown()
        self._server.server_close()

    def _read_stdout(self):
        for line in self._process.stdout:
            self.stdout.append(line.decode().rstrip("\n"))
        self._process.stdout.close()

    def _read_frames(self, fd):
        with os.fdopen(fd, "rb") as stream:
            while header := stream.read(16):
                frame_type, length = int.from_bytes(header[:4], "big"), int.from_bytes(header[4:8], "big")
                assert frame_type >> 8 == 0xA55A00, hex(frame_type)
                # Text and JSON frame types differ in the lowest bit only.
                level = FRAME_LEVELS[frame_type & 0xFE]
                self.frames.append(Frame(level, stream.read(length).decode()))
