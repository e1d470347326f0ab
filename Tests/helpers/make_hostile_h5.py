"""Writes hostile HDF5 files for lenspipe's tests (issue 12, items 2 and 3). Usage:

    make_hostile_h5.py OUT [--fuzz N] [--seed S] [--flips K]

OUT/huge_square.h5   /images (1, 2^32, 2^32) float32, chunked, nothing written (a few KB)
OUT/huge_count.h5    /images (2^34, 64, 64) float32, chunked, one chunk written
OUT/overflow.h5      /images (2^40, 2^40, 2^40) float32: the element count overflows 64 bits
OUT/fuzz-NNN.h5      N chunked datasets /images of random rank-3/4 shapes from a list of hostile
                     dimensions (1 ... 2^62), zero or one chunk written; their shapes in OUT/fuzz.json
OUT/flip-NNN.h5      up to K one-byte flips, half in the metadata of a small contiguous file, half
                     around the layout message of a chunked gzip file, that this h5py's libhdf5
                     refuses to open or read (Debian's 1.10.8 crashes on some of them); OUT/flips.json

Files are written with libver='earliest', so libhdf5 1.10 reads them.
"""
import json
import os
import struct
import sys

import h5py
import numpy as np


def chunked(path, shape, write_one=False):
    chunks = tuple(1 if k < len(shape) - 2 else min(d, 64) for k, d in enumerate(shape))
    with h5py.File(path, "w", libver="earliest") as f:
        d = f.create_dataset("images", shape=shape, maxshape=shape, chunks=chunks, dtype="f4")
        if write_one:
            d[tuple(slice(0, c) for c in chunks)] = np.ones(chunks, dtype="f4")


def rejected_flips(path, offsets, probe):
    """One-byte flips of `path` at `offsets` that this h5py's libhdf5 refuses to open or read."""
    data = open(path, "rb").read()
    found = []
    for offset in offsets:
        for x in (0xFF, 0x01, 0x80):
            b = bytearray(data)
            b[offset] ^= x
            open(probe, "wb").write(b)
            try:
                with h5py.File(probe, "r") as f:
                    f["images"][...]
            except Exception:
                found.append((offset, x, bytes(b)))
    return found


def flips(out, limit):
    rng = np.random.default_rng(12)
    contiguous, chunked_base = out + "/flip-base.h5", out + "/flip-base-chunked.h5"
    with h5py.File(contiguous, "w", libver="earliest") as f:
        f.create_dataset("images", data=rng.random((10, 64, 64), dtype=np.float32))
    with h5py.File(chunked_base, "w", libver="earliest") as f:
        f.create_dataset("images", data=rng.random((10, 1, 64, 64), dtype=np.float32), chunks=(1, 1, 64, 64), compression="gzip")
    with h5py.File(contiguous) as f:
        meta_end = f["images"].id.get_offset()  # the metadata precedes the contiguous data
    probe = out + "/flip-probe.h5"
    found = rejected_flips(contiguous, range(meta_end), probe)
    # Around the chunked dataset's layout message (chunk dims 1,1,64,64 and the element size): flips
    # there make chunk B-tree keys disagree with the chunk shape, which 1.10.8 does not check.
    layout = open(chunked_base, "rb").read().find(struct.pack("<5I", 1, 1, 64, 64, 4))
    assert layout > 0, "layout message not found"
    chunk_flips = rejected_flips(chunked_base, range(max(0, layout - 96), layout + 20), probe)
    os.remove(probe)
    # An even sample of each (always the first), half the budget each.
    kept = []
    for group in (found, chunk_flips):
        want = max(1, limit // 2)
        kept += group[:: max(1, len(group) // want)][:want]
    for k, (offset, x, b) in enumerate(kept):
        open(f"{out}/flip-{k:03d}.h5", "wb").write(b)
    json.dump([{"file": f"flip-{k:03d}.h5", "offset": o, "xor": x} for k, (o, x, _) in enumerate(kept)],
              open(out + "/flips.json", "w"))
    return len(found) + len(chunk_flips)


def main():
    out = sys.argv[1]
    args = sys.argv[2:]
    opt = lambda name, default: int(args[args.index(name) + 1]) if name in args else default
    chunked(out + "/huge_square.h5", (1, 2**32, 2**32))
    chunked(out + "/huge_count.h5", (2**34, 64, 64), write_one=True)
    chunked(out + "/overflow.h5", (2**40, 2**40, 2**40))
    rng = np.random.default_rng(opt("--seed", 7))
    dims = [1, 2, 3, 4, 63, 64, 150, 2**16, 2**31 - 1, 2**32, 2**33, 2**40, 2**62]
    shapes = []
    for k in range(opt("--fuzz", 0)):
        rank = int(rng.integers(3, 5))
        shape = tuple(int(rng.choice(dims)) for _ in range(rank))
        write_one = bool(rng.integers(0, 2))
        try:
            chunked(f"{out}/fuzz-{k:03d}.h5", shape, write_one)
        except Exception:  # libhdf5 cannot address one chunk of some of these shapes: write none
            chunked(f"{out}/fuzz-{k:03d}.h5", shape)
        shapes.append({"file": f"fuzz-{k:03d}.h5", "shape": list(shape)})
    json.dump(shapes, open(out + "/fuzz.json", "w"))
    limit = opt("--flips", 0)
    if limit:
        print("rejected flips:", flips(out, limit))


if __name__ == "__main__":
    main()
