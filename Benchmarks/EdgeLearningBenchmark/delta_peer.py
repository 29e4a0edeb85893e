"""Peer for edge-learning-benchmark: ship the same policy change the way a
Flower/PyTorch stack does — every tensor as dense float32, serialized with
numpy's np.save (Flower's ndarray_to_bytes). Times the serialization and
deserialization in memory; the size is measured after zstd -3 (the zstd CLI,
run once and not timed, since Python has no zstd module here). Prints JSON:
bytes (zstd), raw_bytes, median encode and decode seconds.

usage: python3 delta_peer.py change.safetensors [--repeats N]
"""
import io
import json
import subprocess
import sys
import time

import numpy as np
from safetensors.numpy import load_file


def main():
    path = sys.argv[1]
    repeats = int(sys.argv[sys.argv.index("--repeats") + 1]) if "--repeats" in sys.argv else 21
    tensors = load_file(path)
    names = sorted(tensors)

    def encode():
        parts = []
        for name in names:
            buffer = io.BytesIO()
            np.save(buffer, tensors[name], allow_pickle=False)
            parts.append(buffer.getvalue())
        return b"".join(len(p).to_bytes(8, "little") + p for p in parts)

    def decode(blob):
        arrays, offset = [], 0
        while offset < len(blob):
            size = int.from_bytes(blob[offset:offset + 8], "little")
            arrays.append(np.load(io.BytesIO(blob[offset + 8:offset + 8 + size]), allow_pickle=False))
            offset += 8 + size
        return arrays

    def median(fn):
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        return sorted(times)[len(times) // 2]

    blob = encode()
    wire = subprocess.run(["zstd", "-3", "-q", "-c"], input=blob, capture_output=True, check=True).stdout
    result = {
        "bytes": len(wire),
        "raw_bytes": len(blob),
        "encode_seconds": median(encode),
        "decode_seconds": median(lambda: decode(blob)),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
