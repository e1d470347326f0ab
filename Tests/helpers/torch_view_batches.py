"""lenspipe.torch_data.ViewBatches in a DataLoader with 2 workers, for 2 DDP ranks (rank and world size
given, as torchrun would set them): every sample once per epoch over ranks and workers, equal batch
counts per rank, and each batch's views equal to ViewSampler.views of the same ids and epoch.
python3 torch_view_batches.py  -> one JSON line. Needs numpy and torch."""
import json, os, sys
import numpy as np
import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "python"))
from lenspipe import ViewSampler  # noqa: E402
from lenspipe.torch_data import ViewBatches, collate  # noqa: E402

rng = np.random.default_rng(3)
data = []
for i in range(40):
    img = rng.normal(size=(1, 48, 48)).astype(np.float32)
    y, x = 16 + i % 16, 14 + (3 * i) % 20
    img[0, y:y + 6, x:x + 6] += 30
    mask = np.zeros((48, 48), np.uint8)
    mask[y:y + 6, x:x + 6] = 1
    data.append({"image": img, "foreground": mask})
recipe = {"views": {"global": [{"size": 32}, {"size": 32}], "local": {"count": 2, "size": 16}}}
direct = ViewSampler(recipe, seed=5)
out = {"epochs": {}}
ok_views = True
for epoch in (0, 1):
    seen, per_rank = [], []
    for rank in (0, 1):
        batches = ViewBatches(data, recipe=recipe, seed=5, batch_size=4, rank=rank, world_size=2)
        batches.set_epoch(epoch)
        loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=2, collate_fn=collate)
        count = 0
        for b in loader:
            ids = b["ids"].numpy()
            g, l = direct.views(np.stack([data[i]["image"] for i in ids]), foreground=np.stack([data[i]["foreground"] for i in ids]),
                                sample_ids=ids, epoch=epoch)
            ok_views &= np.array_equal(g, b["global"].numpy()) and np.array_equal(l, b["local"].numpy())
            seen += ids.tolist()
            count += 1
        per_rank.append(count)
    out["epochs"][epoch] = {"seen": len(seen), "unique": len(set(seen)), "per_rank": per_rank, "order": seen[:6]}
out["views_equal"] = bool(ok_views)
out["orders_differ"] = out["epochs"][0]["order"] != out["epochs"][1]["order"]
print(json.dumps(out))
