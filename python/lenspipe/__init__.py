"""lenspipe's lens-aware multi-crop views in Python, through the Swift view sampler's C ABI.

    from lenspipe import ViewSampler
    sampler = ViewSampler("recipe.json", metadata="shards/lenspipe.json")
    g, l = sampler.views(images, foreground=masks, sample_ids=ids, epoch=3)
    # g: [N, G, C, S, S] float32, l: [N, L, C, s, s]: the same bits as
    # `lenspipe preview SHARDS --seed SEED --epoch 3 --save-views DIR` for those sample indices.
"""
from .views import ViewSampler, ViewSamplerError, library_path

__all__ = ["ViewSampler", "ViewSamplerError", "library_path"]
