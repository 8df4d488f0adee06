#!/usr/bin/python3
"""Prints the sum of a consumer group's committed offsets for one topic (Kafka OffsetFetch v1).

Used by image/vm-test.sh to see that the forwarder has taken records from the edge broker before the
VM is restarted. Talks the wire protocol directly (Debian's python3-kafka cannot parse the mock
broker's OffsetFetch answer); single-broker clusters only (the broker is the group coordinator).
  kafka-committed.py HOST:PORT GROUP TOPIC PARTITIONS
"""
import socket
import struct
import sys


def kstr(s: str) -> bytes:
    b = s.encode()
    return struct.pack(">h", len(b)) + b


def main() -> None:
    hostport, group, topic, partitions = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    host, port = hostport.rsplit(":", 1)
    body = kstr(group) + struct.pack(">i", 1) + kstr(topic) + struct.pack(">i", partitions)
    body += b"".join(struct.pack(">i", p) for p in range(partitions))
    header = struct.pack(">hhi", 9, 1, 1) + kstr("vm-test")
    request = header + body
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(struct.pack(">i", len(request)) + request)
        size = struct.unpack(">i", recv(s, 4))[0]
        data = recv(s, size)
    pos = 4  # correlation id
    (ntopics,) = struct.unpack_from(">i", data, pos)
    pos += 4
    total = 0
    for _ in range(ntopics):
        (nlen,) = struct.unpack_from(">h", data, pos)
        pos += 2 + nlen
        (nparts,) = struct.unpack_from(">i", data, pos)
        pos += 4
        for _ in range(nparts):
            _, offset = struct.unpack_from(">iq", data, pos)
            pos += 12
            (mlen,) = struct.unpack_from(">h", data, pos)
            pos += 2 + max(mlen, 0)
            (err,) = struct.unpack_from(">h", data, pos)
            pos += 2
            if err != 0:
                sys.exit(f"OffsetFetch error {err}")
            total += max(offset, 0)
    print(total)


def recv(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("connection closed")
        buf += chunk
    return buf


if __name__ == "__main__":
    main()
