"""Writes a two-sample MDS worked example (format: docs/shards.md) exactly as streaming.MDSWriter does,
with numpy + zstandard only: columns {'image': 'ndarray:float32:2,2', 'label': 'int', 'dyn': 'ndarray'},
two samples, no compression, no hashes, size_limit null: then the offsets are the ones MDSWriter
computes (239, 282, 916), which this checks. With --zstd: compression zstd:3 and sha1 hashes (other offsets).

python3 make_mds_worked_example.py OUT_DIR [--zstd]
"""
import hashlib, json, os, struct, sys
import numpy as np
import zstandard

out = sys.argv[1]
zipped_mode = "--zstd" in sys.argv
os.makedirs(out, exist_ok=True)
names = ["dyn", "image", "label"]
encodings = ["ndarray", "ndarray:float32:2,2", "int"]
sizes = [None, 16, 8]
cfg = {"column_encodings": encodings, "column_names": names, "column_sizes": sizes,
       "compression": "zstd:3" if zipped_mode else None, "format": "mds", "hashes": ["sha1"] if zipped_mode else [],
       "size_limit": 1 << 26 if zipped_mode else None, "version": 2}
codes = {np.uint8: 8, np.int8: 9, np.uint16: 16, np.int16: 17, np.float16: 18, np.uint32: 32, np.int32: 33,
         np.float32: 34, np.uint64: 64, np.int64: 65, np.float64: 66}


def dyn(a):
    m = max(a.shape)
    code, fmt = (0, "B") if m < 256 else (1, "H") if m < 65536 else (2, "I") if m < 2 ** 32 else (3, "Q")
    return bytes([codes[a.dtype.type], (a.ndim << 2) | code]) + struct.pack("<" + fmt * a.ndim, *a.shape) + a.tobytes()


samples = [(np.ones(3, np.float32), np.arange(4, dtype=np.float32).reshape(2, 2), 7),
           (np.arange(300, dtype=np.int16).reshape(1, 300), np.full((2, 2), -1.5, np.float32), -3)]
records = []
for d, img, label in samples:
    enc = dyn(d)
    records.append(struct.pack("<I", len(enc)) + enc + img.tobytes() + struct.pack("<q", label))
cfg_json = json.dumps(cfg, sort_keys=True).encode()
n = len(records)
offsets = [4 + 4 * (n + 1) + len(cfg_json)]
for r in records:
    offsets.append(offsets[-1] + len(r))
assert zipped_mode or offsets == [239, 282, 916], offsets
raw = struct.pack("<I", n) + struct.pack("<%dI" % (n + 1), *offsets) + cfg_json + b"".join(records)
if zipped_mode:
    zipped = zstandard.ZstdCompressor(level=3).compress(raw)
    with open(os.path.join(out, "shard.00000.mds.zstd"), "wb") as f:
        f.write(zipped)
    entry = dict(cfg, raw_data={"basename": "shard.00000.mds", "bytes": len(raw), "hashes": {"sha1": hashlib.sha1(raw).hexdigest()}},
                 samples=n, zip_data={"basename": "shard.00000.mds.zstd", "bytes": len(zipped),
                                      "hashes": {"sha1": hashlib.sha1(zipped).hexdigest()}})
else:
    with open(os.path.join(out, "shard.00000.mds"), "wb") as f:
        f.write(raw)
    entry = dict(cfg, raw_data={"basename": "shard.00000.mds", "bytes": len(raw), "hashes": {}}, samples=n, zip_data=None)
with open(os.path.join(out, "index.json"), "w") as f:
    json.dump({"version": 2, "shards": [entry]}, f, sort_keys=True)
print("ok", offsets)
