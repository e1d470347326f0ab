"""Turns shard 0 of an MDS folder into a zstd bomb (issue 12, item 5). Usage:

    make_zstd_bomb.py FOLDER RAW_BYTES

The new shard.00000.mds.zstd is one small frame that decompresses to RAW_BYTES: the original raw
shard followed by zeros (so its last offset no longer matches its size), and index.json's
raw_data.bytes and zip_data.bytes are updated to match, as a hostile writer would.
"""
import json
import sys

import zstandard

folder, raw_bytes = sys.argv[1], int(sys.argv[2])
index = json.load(open(folder + "/index.json"))
shard = index["shards"][0]
zip_name = folder + "/" + shard["zip_data"]["basename"]
raw = zstandard.ZstdDecompressor().decompress(open(zip_name, "rb").read())
with open(zip_name, "wb") as f:
    with zstandard.ZstdCompressor(level=3).stream_writer(f, size=raw_bytes, closefd=False) as w:
        w.write(raw)
        zeros = bytes(1 << 20)
        left = raw_bytes - len(raw)
        while left > 0:
            w.write(zeros[: min(left, len(zeros))])
            left -= len(zeros)
shard["raw_data"]["bytes"] = raw_bytes
shard["raw_data"]["hashes"] = {}
shard["zip_data"]["bytes"] = len(open(zip_name, "rb").read())
shard["zip_data"]["hashes"] = {}
json.dump(index, open(folder + "/index.json", "w"), sort_keys=True)
print(shard["zip_data"]["bytes"])
