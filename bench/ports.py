"""The local ports the benchmarks use: a free one for a throwaway HTTP server, and the Milvus server's."""

from __future__ import annotations

import socket

MILVUS_HOST, MILVUS_PORT = "127.0.0.1", 19530
#: the Milvus 2.3 server the comparisons run against (``milvus-server --data DIR``, started beforehand)
MILVUS_URI = f"http://{MILVUS_HOST}:{MILVUS_PORT}"


def free_port() -> int:
    """A port nothing listens on now, for a server the benchmark starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def milvus_server_up() -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex((MILVUS_HOST, MILVUS_PORT)) == 0
