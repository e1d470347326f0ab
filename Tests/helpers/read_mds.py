"""An independent MDS reader (numpy + zstandard only, following the format as docs/shards.md describes it), used to check
lenspipe's shards from outside Swift.

python3 read_mds.py MDS_DIR [--compare SOURCE_TREE] [--hashes]
  Prints one JSON line per sample: id, label, target, crop, image shape/dtype, sha1 of the image bytes.
  --compare: also loads every SOURCE_TREE/<class>/*.npy with numpy (allow_pickle) and asserts that
             image (as float32), label (sorted class folders) and target (object-array mass) match
             the shard sample with the same id; prints "compared N".
  --hashes:  checks every hash recorded in index.json against hashlib.
"""
import hashlib, json, os, struct, sys
import numpy as np
import zstandard

CODES = {8: "u1", 9: "i1", 16: "<u2", 17: "<i2", 18: "<f2", 32: "<u4", 33: "<i4", 34: "<f4", 64: "<u8", 65: "<i8", 66: "<f8"}
NAMES = {"uint8": "u1", "int8": "i1", "uint16": "<u2", "int16": "<i2", "float16": "<f2", "uint32": "<u4", "int32": "<i4",
         "float32": "<f4", "uint64": "<u8", "int64": "<i8", "float64": "<f8"}
FIXED = {"int": 8, **{k: np.dtype(v).itemsize for k, v in NAMES.items()}}


def fixed_size(enc):
    p = enc.split(":")
    if p[0] == "ndarray" and len(p) == 3:
        return int(np.prod([int(d) for d in p[2].split(",")])) * np.dtype(NAMES[p[1]]).itemsize
    return FIXED.get(enc)


def decode(enc, b):
    p = enc.split(":")
    if p[0] == "ndarray":
        if len(p) == 3:
            return np.frombuffer(b, NAMES[p[1]]).reshape([int(d) for d in p[2].split(",")])
        pos = 0
        dt = NAMES[p[1]] if len(p) == 2 else CODES[b[0]]
        pos = 0 if len(p) == 2 else 1
        hdr = b[pos]; ndim, code = hdr >> 2, hdr & 3; pos += 1
        fmt = "BHIQ"[code]
        shape = struct.unpack_from("<%d%s" % (ndim, fmt), b, pos); pos += ndim * struct.calcsize(fmt)
        return np.frombuffer(b[pos:], dt).reshape(shape)
    if enc == "int":
        return struct.unpack("<q", b)[0]
    if enc in ("str", "json"):
        return b.decode()
    if enc in NAMES:
        return np.frombuffer(b, NAMES[enc])[0]
    return bytes(b)


def read(folder, check_hashes=False):
    index = json.load(open(os.path.join(folder, "index.json")))
    assert index["version"] == 2
    for shard in index["shards"]:
        assert set(shard) == {"column_encodings", "column_names", "column_sizes", "compression", "format", "hashes",
                              "raw_data", "samples", "size_limit", "version", "zip_data"}, sorted(shard)
        assert shard["column_names"] == sorted(shard["column_names"])
        zd = shard["zip_data"]
        if zd:
            zipped = open(os.path.join(folder, zd["basename"]), "rb").read()
            assert len(zipped) == zd["bytes"]
            raw = zstandard.ZstdDecompressor().decompress(zipped)  # needs the content size in the frame
        else:
            zipped, raw = None, open(os.path.join(folder, shard["raw_data"]["basename"]), "rb").read()
        assert len(raw) == shard["raw_data"]["bytes"]
        if check_hashes:
            for algo in shard["hashes"]:
                assert hashlib.new(algo, raw).hexdigest() == shard["raw_data"]["hashes"][algo]
                if zd:
                    assert hashlib.new(algo, zipped).hexdigest() == zd["hashes"][algo]
        n = struct.unpack_from("<I", raw, 0)[0]
        assert n == shard["samples"]
        offsets = struct.unpack_from("<%dI" % (n + 1), raw, 4)
        assert offsets[-1] == len(raw)
        encs, names = shard["column_encodings"], shard["column_names"]
        sizes = [fixed_size(e) for e in encs]
        assert sizes == shard["column_sizes"], (sizes, shard["column_sizes"])
        for i in range(n):
            rec = raw[offsets[i]:offsets[i + 1]]
            nvar = sum(s is None for s in sizes)
            var = list(struct.unpack_from("<%dI" % nvar, rec, 0))
            pos = 4 * nvar
            sample = {}
            for name, enc, size in zip(names, encs, sizes):
                if size is None:
                    size = var.pop(0)
                sample[name] = decode(enc, rec[pos:pos + size]); pos += size
            assert pos == len(rec)
            yield sample


def main():
    folder = sys.argv[1]
    samples = list(read(folder, "--hashes" in sys.argv))
    for s in samples:
        img = s["image"]
        print(json.dumps({"id": s["id"], "label": s["label"], "target": None if np.isnan(s["target"]) else float(s["target"]).hex(),
                          "crop": [int(v) for v in s["crop"]], "shape": list(img.shape), "dtype": str(img.dtype),
                          "sha1": hashlib.sha1(np.ascontiguousarray(img).tobytes()).hexdigest()}))
    if "--compare" in sys.argv:
        root = sys.argv[sys.argv.index("--compare") + 1]
        classes = sorted(d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d)))
        by_id = {s["id"]: s for s in samples}
        count = 0
        for label, cls in enumerate(classes):
            for f in sorted(os.listdir(os.path.join(root, cls))):
                a = np.load(os.path.join(root, cls, f), allow_pickle=True)
                target = float("nan")
                if a.dtype == object:
                    a, target = a[0], float(a[1])
                s = by_id[cls + "/" + f]
                expect = np.asarray(a, np.float32).reshape(s["image"].shape)
                assert np.array_equal(s["image"], expect), f
                assert s["label"] == label, f
                assert (np.isnan(target) and np.isnan(s["target"])) or s["target"] == target, f
                count += 1
        assert count == len(samples), (count, len(samples))
        print("compared", count)


if __name__ == "__main__":
    main()
