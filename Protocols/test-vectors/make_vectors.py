#!/usr/bin/env python3
"""Writes the golden delta containers of Protocols/delta-format.md.

An implementation independent of the Swift codec: it follows the document,
byte by byte, so that both sides of the wire are tested against the spec and
not against each other. Each `NAME.fldelta` gets a `NAME.json` beside it that
states its decoded content (values as decoded float32, sparse payloads
expanded to dense). `zstd` (the command) writes `NAME.fldelta.zst`.

    python3 Protocols/test-vectors/make_vectors.py
"""
import json
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))


def crc32c(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def string16(text: str) -> bytes:
    raw = text.encode("utf-8")
    return struct.pack("<H", len(raw)) + raw


def varint(value: int) -> bytes:
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def gaps(indices):
    out = b""
    previous = 0
    for position, index in enumerate(indices):
        out += varint(index if position == 0 else index - previous)
        previous = index
    return out


def f32(values):
    return struct.pack("<%df" % len(values), *values)


def as_f32(value):
    return struct.unpack("<f", struct.pack("<f", value))[0]


def tensor_block(name, role, shape, encoding, payload):
    out = string16(name) + bytes([role, len(shape)]) + b"".join(struct.pack("<I", d) for d in shape)
    out += bytes([encoding])
    count = 1
    for d in shape:
        count *= d
    rows = 1 if len(shape) == 1 else shape[0]
    columns = count // rows
    dense = [0.0] * count
    if encoding == 0:
        out += f32(payload["values"])
        dense = [as_f32(v) for v in payload["values"]]
    elif encoding == 1:
        idx, vals = payload["indices"], payload["values"]
        out += struct.pack("<I", len(idx)) + gaps(idx) + f32(vals)
        for i, v in zip(idx, vals):
            dense[i] = as_f32(v)
    elif encoding == 2:
        scales, q = payload["scales"], payload["values"]
        out += f32(scales) + struct.pack("<%db" % len(q), *q)
        dense = [as_f32(as_f32(scales[i // columns]) * float(v)) for i, v in enumerate(q)]
    elif encoding == 3:
        scales, idx, q = payload["scales"], payload["indices"], payload["values"]
        out += f32(scales) + struct.pack("<I", len(idx)) + gaps(idx) + struct.pack("<%db" % len(q), *q)
        for i, v in zip(idx, q):
            dense[i] = as_f32(as_f32(scales[i // columns]) * float(v))
    described = {"name": name, "role": ["difference", "addition"][role], "shape": shape,
                 "encoding": ["dense_f32", "sparse_f32", "dense_int8", "sparse_int8"][encoding],
                 "dense": dense}
    return out, described


def container(name, architecture, base, round_, node, tensors, counts, metadata):
    body = b"FLDELTA\x00" + struct.pack("<HH", 1, 0) + string16(architecture)
    body += struct.pack("<QQ", base, round_) + string16(node)
    tensors = sorted(tensors, key=lambda t: t[0].encode("utf-8"))
    body += struct.pack("<I", len(tensors))
    described = []
    for t in tensors:
        raw, desc = tensor_block(*t)
        body += raw
        described.append(desc)
    body += struct.pack("<I", len(counts)) + b"".join(struct.pack("<Q", c) for c in counts)
    meta = json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode("utf-8")
    body += struct.pack("<I", len(meta)) + meta
    body += struct.pack("<I", crc32c(body))
    path = os.path.join(HERE, name + ".fldelta")
    with open(path, "wb") as f:
        f.write(body)
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump({"architecture": architecture, "base_version": base, "round": round_, "node_id": node,
                   "tensors": described, "routing_counts": counts, "metadata": metadata,
                   "crc32c": crc32c(body[:-4])}, f, indent=1, sort_keys=True)
        f.write("\n")
    subprocess.run(["zstd", "-q", "-f", "-19", path, "-o", path + ".zst"], check=True)


def main():
    assert crc32c(b"123456789") == 0xE3069283
    container("empty", "moe-64x8x128-top2-a6", 0, 0, "node-0", [], [],
              {"families": [], "samples": 0, "captures": 0, "metrics": {}})
    container("dense-f32", "moe-4x2x3-top1-a2", 7, 3, "alpine-01",
              [("experts.1.fc1.bias", 0, [3], 0, {"values": [0.5, -1.25, 3.0]}),
               ("router.weight", 0, [2, 2], 0, {"values": [1.0, -0.0, 1e-7, -65504.0]})],
              [10, 32], {"families": ["ice"], "samples": 42, "captures": 1, "metrics": {"failure_rate_after": 0.125}})
    container("sparse-f32", "moe-4x2x3-top1-a2", 7, 4, "coastal-02",
              [("experts.0.fc2.weight", 0, [2, 5], 1, {"indices": [0, 3, 4, 9], "values": [0.25, -2.0, 1.5, 8.0]})],
              [5, 0], {"families": ["fog", "sensor-dropout"], "samples": 1000, "captures": 2, "metrics": {}})
    container("int8", "moe-4x2x3-top1-a2", 8, 5, "urban-03",
              [("experts.1.fc1.weight", 0, [2, 3], 2, {"scales": [0.5, 0.03125], "values": [127, -127, 0, 1, -64, 100]}),
               ("experts.1.fc2.weight", 0, [3, 4], 3, {"scales": [1.0, 0.0, 0.25],
                                                      "indices": [1, 2, 8, 11], "values": [-3, 7, 127, -128]})],
              [0, 77], {"families": ["cut-in"], "samples": 77, "captures": 1, "metrics": {"gold_score": 91.5}})
    container("added-expert", "moe-4x2x3-top1-a2", 9, 6, "alpine-04",
              [("experts.2.fc1.bias", 1, [3], 0, {"values": [0.1, 0.2, 0.3]}),
               ("experts.2.fc1.weight", 1, [3, 4], 0, {"values": [float(i) / 8 for i in range(12)]}),
               ("router.bias", 0, [3], 1, {"indices": [2], "values": [0.75]})],
              [1, 2, 300], {"families": ["ice", "stalled-vehicle"], "samples": 303, "captures": 4,
                            "metrics": {"loss_after": 0.02}})


if __name__ == "__main__":
    main()
