"""Order-preserving encoding of string tuples into LMDB keys.

Each part is written as ``0x02 + utf8 (NUL escaped as 0x00 0xff) + 0x00 0x01``. Inside a part
a ``0x00`` byte is always followed by ``0xff``, so the terminator ``0x00 0x01`` cannot occur
early: the encoding of a tuple prefix is a byte prefix of exactly the keys that start with
those parts (``pack("a")`` is not a prefix of ``pack("a\\x00")``), and byte order equals tuple
order (``0x01 < 0xff`` and a terminator sorts below any continuing character). Users'
strings (org names, tags) may contain any character, NUL included, without breaking an index.
"""

from __future__ import annotations

_START = b"\x02"
_END = b"\x00\x01"
_ESCAPED_NUL = b"\x00\xff"


def pack(*parts: str) -> bytes:
    """Encode ``parts`` into one key; ``pack(a) + pack(b) == pack(a, b)``."""
    joined = "\x00\x01\x02".join(parts)
    if joined.count("\x00") == len(parts) - 1:  # no NUL inside any part: the common, fast path
        return b"\x02" + joined.encode() + b"\x00\x01" if parts else b""
    return b"".join([_START + p.encode().replace(b"\x00", _ESCAPED_NUL) + _END for p in parts])


def unpack(key: bytes) -> tuple[str, ...]:
    """Decode a key made by :func:`pack`; raises ``ValueError`` on anything else."""
    parts: list[str] = []
    i, n = 0, len(key)
    while i < n:
        if key[i : i + 1] != _START:
            raise ValueError(f"malformed key at byte {i}: {key!r}")
        out = bytearray()
        i += 1
        while True:
            j = key.find(b"\x00", i)
            if j < 0:
                raise ValueError(f"unterminated part in key {key!r}")
            out += key[i:j]
            marker = key[j + 1 : j + 2]
            i = j + 2
            if marker == b"\xff":
                out += b"\x00"
            elif marker == b"\x01":
                break
            else:
                raise ValueError(f"malformed escape at byte {j}: {key!r}")
        parts.append(out.decode())
    return tuple(parts)
