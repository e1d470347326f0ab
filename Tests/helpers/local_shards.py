"""Checks lenspipe.mds.LocalShards (the package's local MDS reader) against read_mds.py (this folder's
independent reader) on every sample and column of FOLDER, then that a damaged copy gets MDSFormatError
naming the file. Prints one JSON object.

    python3 local_shards.py FOLDER SCRATCH
"""
import json
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from read_mds import read  # noqa: E402
from lenspipe.mds import LocalShards, MDSFormatError  # noqa: E402

folder, scratch = sys.argv[1], sys.argv[2]
ours = LocalShards(folder)
theirs = list(read(folder))
same = len(ours) == len(theirs)
for i in reversed(range(len(theirs))):  # backwards: every shard is decompressed again
    a, b = ours[i], theirs[i]
    same = same and set(a) == set(b) and all(np.array_equal(np.asarray(a[k]), np.asarray(b[k]), equal_nan=np.asarray(b[k]).dtype.kind == "f")
                                             for k in b)
damaged = os.path.join(scratch, "damaged")
shutil.copytree(folder, damaged)
index = json.load(open(os.path.join(damaged, "index.json")))
name = (index["shards"][0].get("zip_data") or index["shards"][0]["raw_data"])["basename"]
with open(os.path.join(damaged, name), "r+b") as f:
    f.truncate(os.path.getsize(os.path.join(damaged, name)) // 2)
try:
    LocalShards(damaged)[0]
    message = None
except MDSFormatError as e:
    message = str(e)
try:
    LocalShards(os.path.join(scratch, "missing"))
    missing = None
except MDSFormatError as e:
    missing = str(e)
print(json.dumps({"samples": len(ours), "same": bool(same), "damaged_error": message, "missing_error": missing, "damaged_file": name}))
