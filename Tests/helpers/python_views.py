"""The Python view sampler (python/lenspipe, through libLensPipeViews) against `lenspipe preview --save-views`:
the same shards, sample indices, seed and epoch must give the same views, bit for bit, and the same boxes.

python3 python_views.py SPLIT RECIPE.json SEED EPOCH PAIRS VIEWS_DIR
  SPLIT: a preprocessed split folder (its lenspipe.json beside it); RECIPE: a training recipe whose
  `views` preview was given; VIEWS_DIR: what `preview --save-views` wrote. Prints one JSON line.
Needs numpy (and zstandard for the independent shard reader, read_mds.py).
"""
import json, os, sys
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from read_mds import read  # noqa: E402
import lenspipe  # noqa: E402

split, recipe, seed, epoch, pairs, views = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]
samples = list(read(split))
step = max(1, len(samples) // pairs)  # preview's choice of rows
indices = list(range(0, len(samples), step))[:pairs]
images = np.stack([samples[i]["image"] for i in indices]).astype(np.float32)
foreground = np.stack([samples[i]["foreground"] for i in indices])
sampler = lenspipe.ViewSampler(recipe, seed=seed, metadata=split, threads=2)
g, l, boxes = sampler.views(images, foreground=foreground, sample_ids=indices, epoch=epoch, boxes=True)
want_g, want_l = np.load(os.path.join(views, "global.npy")), np.load(os.path.join(views, "local.npy"))
want_boxes = json.load(open(os.path.join(views, "boxes.json")))
same_boxes = [b["views"] for b in boxes] == [b["views"] for b in want_boxes]
# Another epoch and a permuted batch: views follow (sample id, epoch), not the position in the batch.
g2, _ = sampler.views(images[::-1], foreground=foreground[::-1], sample_ids=indices[::-1], epoch=epoch)
g3, _ = sampler.views(images, foreground=foreground, sample_ids=indices, epoch=epoch + 1)
print(json.dumps({
    "images": len(indices), "global_shape": list(g.shape), "local_shape": list(l.shape),
    "global_equal": g.shape == want_g.shape and g.tobytes() == want_g.tobytes(),
    "local_equal": l.shape == want_l.shape and l.tobytes() == want_l.tobytes(),
    "boxes_equal": same_boxes,
    "order_independent": g2[::-1].tobytes() == g.tobytes(),
    "epoch_changes_views": g3.tobytes() != g.tobytes(),
}))
