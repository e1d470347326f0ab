"""PyTorch input pipeline: lenspipe's view batches from any map-style dataset of lenspipe samples
(`streaming.StreamingDataset` over lenspipe's shards, or a plain list of dicts), split across DDP ranks
and DataLoader workers without repeats.

    from streaming import StreamingDataset
    from lenspipe.torch_data import ViewBatches, collate
    data = StreamingDataset(local="shards/train", shuffle=False)
    batches = ViewBatches(data, recipe="recipe.json", metadata="shards", batch_size=32)
    loader = torch.utils.data.DataLoader(batches, batch_size=None, num_workers=4, collate_fn=collate)
    for epoch in range(epochs):
        batches.set_epoch(epoch)
        for b in loader: ...   # b["global"] [B, G, C, S, S], b["local"] [B, L, C, s, s], b["ids"] [B]
"""
import numpy as np
import torch

from .views import ViewSampler


def _rank_and_world():
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


class ViewBatches(torch.utils.data.IterableDataset):
    """Yields dicts {"global", "local" (float32 tensors, image-major), "ids" (int64 sample indices)}.

    Each epoch's order is a permutation of the dataset's indices seeded by (seed, epoch) (`shuffle=False`:
    index order; `order`: a function of the epoch that returns it, e.g. `TrainingPlan.order`, lenspipe
    train's); rank r of W takes every W-th batch of that order, and DataLoader worker w of K every
    K-th of the rank's, so every sample appears once per epoch over all ranks and workers (the tail that
    does not fill a batch on every rank is dropped, as DDP needs equal step counts). The views of sample
    i at epoch e are `ViewSampler.views` of it with sample id i: the same bits whichever rank, worker or
    batch makes them. Samples are dicts with "image" ([C, H, W] or [H, W]) and, from lenspipe's
    shards, "foreground" ([H, W], the stored lens mask)."""

    def __init__(self, dataset, recipe=None, seed=None, metadata=None, batch_size=32, shuffle=True, rank=None, world_size=None,
                 order=None):
        self.dataset, self.recipe, self.metadata = dataset, recipe, metadata
        self.order = order
        self.batch_size, self.shuffle = int(batch_size), shuffle
        self.seed = seed
        # Resolved here, in the process that made the dataset (torchrun's rank): DataLoader workers
        # started with spawn or forkserver have no process group of their own.
        r, w = _rank_and_world()
        self.rank = r if rank is None else int(rank)
        self.world_size = w if world_size is None else int(world_size)
        if not 0 <= self.rank < self.world_size:
            raise ValueError(f"rank {self.rank} is outside 0...{self.world_size - 1}")
        self.epoch = 0
        self.first_batch = 0
        self.epoch_order = None
        self._sampler = None  # made in each worker process (a native handle does not cross processes)

    def set_epoch(self, epoch, first_batch=0, order=None):
        """Call before each epoch's iteration; `first_batch` skips this rank's first batches of the epoch
        (a run resumed mid-epoch); `order`: this epoch's sample order (an array; e.g. `TrainingPlan.order`
        of the epoch, computed in the main process), overriding the constructor's. With
        persistent_workers=True the workers keep the epoch they started with, so use the default (workers
        restarted each epoch)."""
        self.epoch = int(epoch)
        self.first_batch = int(first_batch)
        self.epoch_order = None if order is None else np.asarray(order, np.int64)

    def sampler(self):
        if self._sampler is None:
            self._sampler = ViewSampler(self.recipe, seed=self.seed, metadata=self.metadata, threads=1)
        return self._sampler

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_sampler"] = None
        return state

    def batches(self):
        """This rank's and worker's batches of sample indices for the current epoch."""
        if self.epoch_order is not None or self.order is not None:
            # The whole data set's order (a StreamingDataset under torchrun reports its rank's share as
            # its len(), so the order's length is the count).
            order = self.epoch_order if self.epoch_order is not None else np.asarray(self.order(self.epoch), np.int64)
            n = len(order)
            if not np.array_equal(np.sort(order), np.arange(n)):
                raise ValueError(f"order({self.epoch}) is not a permutation of 0..{n - 1}")
        else:
            n = len(self.dataset)
            seed = self.sampler().seed & (2**64 - 1)
            order = np.random.Generator(np.random.PCG64([seed, self.epoch])).permutation(n) if self.shuffle else np.arange(n)
        rank, world = self.rank, self.world_size
        steps = n // (self.batch_size * world)  # batches per rank, equal on every rank
        mine = [order[(s * world + rank) * self.batch_size:(s * world + rank + 1) * self.batch_size] for s in range(self.first_batch, steps)]
        info = torch.utils.data.get_worker_info()
        if info is not None:
            mine = mine[info.id::info.num_workers]
        return mine

    def _count(self):
        """The data set's sample count: the epoch order's length when one is set."""
        return len(self.epoch_order) if self.epoch_order is not None else len(self.dataset)

    def __len__(self):
        return max(0, self._count() // (self.batch_size * self.world_size) - self.first_batch)

    def __iter__(self):
        sampler = self.sampler()
        for ids in self.batches():
            samples = [self.dataset[int(i)] for i in ids]
            images = np.stack([np.asarray(s["image"], np.float32) for s in samples])
            foreground = None
            if all(s.get("foreground") is not None for s in samples):
                foreground = np.stack([np.asarray(s["foreground"]) for s in samples])
            g, l = sampler.views(images, foreground=foreground, sample_ids=ids, epoch=self.epoch)
            yield {"global": torch.from_numpy(g), "local": torch.from_numpy(l), "ids": torch.from_numpy(np.asarray(ids, np.int64))}


def collate(batch):
    """The DataLoader's collate_fn for `ViewBatches` (batch_size=None): batches arrive whole."""
    return batch
