"""A TCP proxy a test can freeze: the peer stays connected and hears nothing, as with a
database that hangs (a stuck host, a full disk, a network partition). It can also refuse the
connections whose opening bytes hold a marker: given `b"textbridge-listener"`, the PostgreSQL
connections that name that application (a plaintext startup message: the server must not
negotiate TLS), so that a process's LISTEN connection never gets through and its pool does."""

from __future__ import annotations

import contextlib
import socket
import threading

# The client's first bytes scanned for the marker: PostgreSQL's SSLRequest and startup message.
_OPENING_BYTES = 2048


class FreezableProxy:
    def __init__(self, host: str, port: int, refuse: bytes | None = None) -> None:
        self._target = (host, port)
        self._refuse = refuse
        self.refused = 0
        self._flowing = threading.Event()
        self._flowing.set()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def freeze(self) -> None:
        self._flowing.clear()

    def thaw(self) -> None:
        self._flowing.set()

    def close(self) -> None:
        self.thaw()
        for sock in [self._listener, *self._sockets]:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self._target)
            self._sockets += [client, upstream]
            for source, sink, scan in ((client, upstream, True), (upstream, client, False)):
                pump = threading.Thread(target=self._pump, args=(source, sink, scan), daemon=True)
                pump.start()

    def _pump(self, source: socket.socket, sink: socket.socket, scan: bool = False) -> None:
        opening = b""
        try:
            while data := source.recv(65536):
                if scan and self._refuse is not None and len(opening) < _OPENING_BYTES:
                    opening += data
                    if self._refuse in opening:
                        self.refused += 1
                        return  # closes both ends
                self._flowing.wait()  # frozen: hold the bytes, forward them on thaw
                sink.sendall(data)
        except OSError:
            pass
        finally:
            # shutdown, not only close: close does not wake the thread reading the other way,
            # and the peer would never see the end of the connection.
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()
