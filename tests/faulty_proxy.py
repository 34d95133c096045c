"""A TCP proxy on 127.0.0.1 that breaks HTTP answers on purpose.

It stands between lambda_function's CloudFront client and the test CloudFront
(moto's server), and forwards one request per client connection. A fault
given to inject() applies to the requests whose request line contains its
*match* ("POST /2020-05-31/distribution/E1/invalidation", "Marker=", ...), the
first *times* of them (all when None):

  cut_headers   the request reaches CloudFront; its answer's headers come
                back, then the connection closes (FIN): no body.
  cut_half      the headers and half the body, then FIN.
  drip          the whole answer, in DRIP_PIECES pieces over DRIP_S seconds.
  trickle       the headers, then the body a byte at a time, DRIP_S /
                DRIP_PIECES seconds apart: each byte well within the client's
                read timeout, and minutes for any answer, so the client's
                attempt never ends on its own within a test (reset_oldest()
                or close() ends it).
  reset         the request reaches CloudFront (it acts), then the client's
                connection is reset (RST), no answer.

Connects that fail are not the proxy's: Refused() is a port bound but
not listening (ECONNREFUSED at once), BlackHole() a listener whose accept queue
is full, so a connect waits for an answer that never comes.

Every answer forwarded is marked "Connection: close", so the client never
reuses a connection the proxy is about to close. Each request forwarded gets
the *headers* given to FaultyProxy, and the proxy notes (timeline) when it
accepted it and when the whole answer came back from upstream.
"""

import socket
import threading
import time
from urllib.parse import urlsplit

FAULTS = ("cut_headers", "cut_half", "drip", "trickle", "reset")
DRIP_S, DRIP_PIECES = 12.0, 24


class FaultyProxy:
    """A proxy to *upstream* ("http://host:port") that breaks answers on demand."""

    def __init__(self, upstream, headers=None):
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname, parts.port)
        # Added to every request forwarded (e.g. moto's x-moto-account-id).
        self.headers = b"".join(f"{name}: {value}\r\n".encode("latin-1")
                                for name, value in (headers or {}).items())
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.applied = []   # (fault, request line), in the order applied
        # Per request forwarded: its line, the fault applied, and time.monotonic() when the
        # client's connection was accepted and when the upstream's whole answer was in hand.
        self.timeline = []
        self._faults, self._lock = [], threading.Lock()
        self._clients = {}   # the connections open, oldest first (a dict as an ordered set)
        self._closed = threading.Event()
        threading.Thread(target=self._accept, name="faulty-proxy", daemon=True).start()

    def inject(self, fault, match="", times=None):
        """Apply *fault* to the requests whose request line holds *match* (the first *times*)."""
        if fault not in FAULTS:
            raise ValueError(f"unknown fault {fault!r}; expected one of {FAULTS}")
        with self._lock:
            self._faults.append([fault, match, times])

    def heal(self):
        """Forward every later request faithfully."""
        with self._lock:
            self._faults.clear()

    def close(self):
        """Stop accepting, and close every connection (a dripping answer stops)."""
        self._closed.set()
        self.listener.close()
        with self._lock:
            clients = list(self._clients)
        for client in clients:
            _close(client, reset=True)

    def reset_oldest(self):
        """Reset the oldest connection still open (its answer stops); return whether there was one."""
        with self._lock:
            oldest = next(iter(self._clients), None)
            self._clients.pop(oldest, None)
        if oldest is not None:
            _close(oldest, reset=True)
        return oldest is not None

    def _accept(self):
        while not self._closed.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            with self._lock:
                self._clients[client] = None
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _fault_for(self, request_line):
        """Return the fault to apply to *request_line*, or None; count it spent."""
        with self._lock:
            for entry in self._faults:
                fault, match, times = entry
                if match in request_line and (times is None or times > 0):
                    if times is not None:
                        entry[2] = times - 1
                    self.applied.append((fault, request_line))
                    return fault
        return None

    def _serve(self, client):
        accepted = time.monotonic()
        try:
            request = _read_message(client.makefile("rb"))
            if request is None:
                return
            request_line = request[:request.index(b"\r\n")].decode("latin-1")
            fault = self._fault_for(request_line)
            with socket.create_connection(self.upstream, timeout=30) as upstream:
                end_of_line = request.index(b"\r\n") + 2
                upstream.sendall(request[:end_of_line] + self.headers + request[end_of_line:])
                answer = _read_message(upstream.makefile("rb"))
            with self._lock:
                self.timeline.append({"request": request_line, "fault": fault, "accepted": accepted,
                                      "answered": time.monotonic()})
            head, _, body = answer.partition(b"\r\n\r\n")
            head = _connection_close(head) + b"\r\n\r\n"
            if fault == "reset":
                _close(client, reset=True)
            elif fault == "cut_headers":
                client.sendall(head)
            elif fault == "cut_half":
                client.sendall(head + body[:len(body) // 2])
            elif fault == "drip":
                self._drip(client, head + body, -(-len(head + body) // DRIP_PIECES))
            elif fault == "trickle":
                client.sendall(head)
                self._drip(client, body, 1)
            else:
                client.sendall(head + body)
        except OSError:
            pass
        finally:
            _close(client)
            with self._lock:
                self._clients.pop(client, None)

    def _drip(self, client, data, size):
        """Send *data* in pieces of *size* bytes, DRIP_S / DRIP_PIECES seconds apart."""
        for start in range(0, len(data), size):
            if self._closed.wait(DRIP_S / DRIP_PIECES):
                return
            client.sendall(data[start:start + size])


def _read_message(stream):
    """Return one HTTP message (head and Content-Length body) read from *stream*, or None at EOF."""
    lines = []
    while True:
        line = stream.readline(65537)
        if not line:
            return None if not lines else b"".join(lines)
        lines.append(line)
        if line in (b"\r\n", b"\n"):
            break
    head = b"".join(lines)
    length = 0
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    return head + (stream.read(length) if length else b"")


def _connection_close(head):
    """Return the header block *head* with "Connection: close" as its only Connection header."""
    lines = [line for line in head.split(b"\r\n") if not line.lower().startswith(b"connection:")]
    return b"\r\n".join([*lines, b"Connection: close"])


def _close(sock, reset=False):
    """Close *sock*; with *reset*, by an RST rather than a FIN."""
    try:
        if reset:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        else:
            sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class Refused:
    """A port on 127.0.0.1 bound but not listening: a connect is refused at once.

    Held bound until close(), so that no server started meanwhile (the
    scenarios run side by side) can take the port and answer.
    """

    def __init__(self):
        self.socket = socket.socket()
        self.socket.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.socket.getsockname()[1]}"

    def close(self):
        self.socket.close()


class BlackHole:
    """A listener on 127.0.0.1 whose accept queue is full: a connect gets no answer."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(0)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self._fillers = []
        while True:   # fill the queue: the next connect's SYN is dropped
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(self.listener.getsockname())
            self._fillers.append(filler)
            time.sleep(0.05)
            if not _connected(filler):
                break

    def close(self):
        for sock in (*self._fillers, self.listener):
            sock.close()


def _connected(sock):
    """Return whether the non-blocking connect of *sock* has completed."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0 and _has_peer(sock)


def _has_peer(sock):
    try:
        sock.getpeername()
        return True
    except OSError:
        return False
