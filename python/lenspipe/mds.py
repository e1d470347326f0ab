"""LocalShards: a map-style dataset over one local MDS folder (lenspipe's shards, docs/shards.md), for
machines without mosaicml-streaming; `streaming.StreamingDataset(local=FOLDER)` gives the same samples.
Needs numpy and zstandard (for zstd shards)."""
import json
import os
import struct

import numpy as np

_DTYPES = {"uint8": "u1", "int8": "i1", "uint16": "<u2", "int16": "<i2", "float16": "<f2", "uint32": "<u4", "int32": "<i4",
           "float32": "<f4", "uint64": "<u8", "int64": "<i8", "float64": "<f8"}


class MDSFormatError(ValueError):
    """A shard folder that does not hold what its index.json says (the file and what was expected)."""


def _fixed_size(encoding):
    p = encoding.split(":")
    if p[0] == "ndarray" and len(p) == 3:
        return int(np.prod([int(d) for d in p[2].split(",")])) * np.dtype(_DTYPES[p[1]]).itemsize
    if encoding == "int":
        return 8
    return np.dtype(_DTYPES[encoding]).itemsize if encoding in _DTYPES else None


def _decode(encoding, b, where):
    p = encoding.split(":")
    if p[0] == "ndarray" and len(p) == 3:
        return np.frombuffer(b, _DTYPES[p[1]]).reshape([int(d) for d in p[2].split(",")])
    if encoding == "int":
        return struct.unpack("<q", b)[0]
    if encoding in ("str", "json"):
        return b.decode()
    if encoding in _DTYPES:
        return np.frombuffer(b, _DTYPES[encoding])[0]
    raise MDSFormatError(f"{where}: column encoding {encoding!r} is not one LocalShards reads (use streaming.StreamingDataset)")


class LocalShards:
    """LocalShards(folder)[i] -> {column: value} for sample i of a local MDS folder (index.json format
    version 2); len() is the sample count. Shards are decompressed when first read; the `cached` last
    read stay in memory (default 3: `lenspipe train`'s order takes samples from blocks of 2 shards, as
    `ShardOrder` keeps shardsPerBlock + 1)."""

    def __init__(self, folder, cached=3):
        self.folder = os.fspath(folder)
        self.cached = max(1, int(cached))
        path = os.path.join(self.folder, "index.json")
        try:
            with open(path) as f:
                index = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            raise MDSFormatError(f"{path}: not a readable MDS index ({e})") from None
        if index.get("version") != 2 or not isinstance(index.get("shards"), list):
            raise MDSFormatError(f"{path}: expected an MDS index of version 2 with a 'shards' list")
        self.shards = index["shards"]
        self.starts = np.cumsum([0] + [int(s["samples"]) for s in self.shards])
        self._cache = {}  # shard index -> decompressed bytes, least recently used first

    def __len__(self):
        return int(self.starts[-1])

    def _raw(self, k):
        if k in self._cache:
            self._cache[k] = self._cache.pop(k)  # most recently used last
            return self._cache[k]
        shard = self.shards[k]
        zd = shard.get("zip_data")
        name = (zd or shard["raw_data"])["basename"]
        path = os.path.join(self.folder, name)
        with open(path, "rb") as f:
            data = f.read()
        if zd:
            import zstandard  # only for compressed shards
            try:
                data = zstandard.ZstdDecompressor().decompress(data)
            except zstandard.ZstdError as e:
                raise MDSFormatError(f"{path}: not a zstd frame ({e})") from None
        if len(data) != shard["raw_data"]["bytes"]:
            raise MDSFormatError(f"{path}: {len(data)} bytes decompressed, the index says {shard['raw_data']['bytes']}")
        self._cache[k] = data
        while len(self._cache) > self.cached:
            self._cache.pop(next(iter(self._cache)))
        return data

    def __getitem__(self, i):
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"sample {i} of {len(self)}")
        k = int(np.searchsorted(self.starts, i, side="right") - 1)
        raw, shard = self._raw(k), self.shards[k]
        j = i - int(self.starts[k])
        where = os.path.join(self.folder, (shard.get("zip_data") or shard["raw_data"])["basename"]) + f" sample {j}"
        begin, end = struct.unpack_from("<II", raw, 4 + 4 * j)
        rec = raw[begin:end]
        sizes = [_fixed_size(e) for e in shard["column_encodings"]]
        nvar = sum(s is None for s in sizes)
        var = list(struct.unpack_from("<%dI" % nvar, rec, 0))
        pos, sample = 4 * nvar, {}
        for name, enc, size in zip(shard["column_names"], shard["column_encodings"], sizes):
            if size is None:
                size = var.pop(0)
            if pos + size > len(rec):
                raise MDSFormatError(f"{where}: column {name} runs past the record ({pos + size} > {len(rec)} bytes)")
            sample[name] = _decode(enc, rec[pos:pos + size], where)
            pos += size
        return sample
