"""A TCP proxy on 127.0.0.1 for tests: a real database outage without touching the server.

Point a client at ``proxy.port``; ``stop()`` closes the listener and every relayed
connection (new connections are refused, open ones are cut), ``start()`` listens again on
the same port. ``cut_after(marker)`` forwards the next client message that contains
``marker`` to the server, then cuts the connection before the server's answer comes back:
for ``b"COMMIT"`` the transaction is committed but the client sees it fail.
"""

from __future__ import annotations

import socket
import threading


class TcpProxy:
    def __init__(self, target_host: str, target_port: int) -> None:
        self._target = (target_host, target_port)
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._cut_marker: bytes | None = None
        self.cuts = 0
        self.port = 0
        self.start()

    def start(self) -> None:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    @property
    def running(self) -> bool:
        return self._listener is not None

    def stop(self) -> None:
        with self._lock:
            listener, self._listener = self._listener, None
            open_sockets, self._sockets = self._sockets, set()
        if listener is not None:
            _close(listener)
        for sock in open_sockets:
            _close(sock)

    def cut_after(self, marker: bytes) -> None:
        with self._lock:
            self._cut_marker = marker

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            try:
                server = socket.create_connection(self._target)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:
                    _close(client)
                    _close(server)
                    return
                self._sockets.update((client, server))
            cut = threading.Event()
            threading.Thread(target=self._pump, args=(client, server, cut, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(server, client, cut, False), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket, cut: threading.Event, upstream: bool) -> None:
        try:
            while True:
                data = source.recv(65536)
                if not data or (cut.is_set() and not upstream):
                    break
                if upstream:
                    with self._lock:
                        marker = self._cut_marker
                        hit = marker is not None and marker in data
                        if hit:
                            self._cut_marker = None
                            self.cuts += 1
                    if hit:
                        cut.set()  # the server's answer closes both sides instead of passing
                sink.sendall(data)
        except OSError:
            pass
        finally:
            _close(source)
            _close(sink)


def _close(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
