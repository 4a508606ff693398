"""CLIP's text tower run on the query's own length instead of the full context.

open_clip pads every text to the context length (77 tokens for ViT-B-32) and runs the transformer over all
of it, although a search query is usually 5-10 tokens. CLIP's text transformer is causal and reads its
output at the end-of-text token, so the padding after that token cannot change the result: running only up
to the longest end-of-text token in the batch gives the same vectors (cosine 1.0 to float precision) for a
fraction of the work. Towers where that does not hold (no causal mask, a class token, a padding mask, other
pooling, Hugging Face text models) run open_clip's own encode_text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


def encode_text(model: Any, tokens: torch.Tensor) -> torch.Tensor:
    """Text features (not normalised) for a batch of padded token ids, as ``model.encode_text`` gives them."""
    tower, pool, eos_id = _trimmable_tower(model)
    if tower is None:
        return model.encode_text(tokens)
    return _encode_trimmed(tower, tokens, pool, eos_id)


def _trimmable_tower(model: Any) -> tuple[Any, str, int | None]:
    # CLIP keeps the text tower's parts on the model itself; CustomTextCLIP has them on a TextTransformer.
    if hasattr(model, "text"):
        tower = model.text
        if getattr(tower, "cls_emb", None) is not None or getattr(tower, "use_pad_mask", False):
            return None, "", None
        pool, eos_id = getattr(tower, "pool_type", None), getattr(tower, "eos_id", None)
    else:
        tower = model
        pool, eos_id = getattr(model, "text_pool_type", None), getattr(model, "text_eos_id", None)
    parts = ("token_embedding", "positional_embedding", "transformer", "ln_final", "attn_mask")
    if not all(getattr(tower, part, None) is not None for part in parts):
        return None, "", None
    if pool == "argmax" or (pool == "eos" and eos_id is not None):
        return tower, pool, eos_id
    return None, "", None


def _encode_trimmed(tower: Any, tokens: torch.Tensor, pool: str, eos_id: int | None) -> torch.Tensor:
    import torch
    from torch import nn

    if pool == "eos" and eos_id is not None:
        ends = tokens.eq(eos_id).int().argmax(dim=-1)
    else:  # the end-of-text token has the highest id in open_clip's tokenizer
        ends = tokens.argmax(dim=-1)
    length = int(ends.max()) + 1
    tokens = tokens[:, :length]
    # The positional embedding is a plain parameter, so its dtype is the tower's compute dtype even when
    # dynamic quantisation has replaced the Linear weights that open_clip's get_cast_dtype reads.
    dtype = tower.positional_embedding.dtype
    x = tower.token_embedding(tokens).to(dtype) + tower.positional_embedding[:length].to(dtype)
    x = tower.transformer(x, attn_mask=tower.attn_mask[:length, :length])
    x = tower.ln_final(x)
    pooled = x[torch.arange(x.shape[0], device=x.device), ends]
    projection = tower.text_projection
    if projection is None:
        return pooled
    if isinstance(projection, nn.Linear):
        return projection(pooled)
    return pooled @ projection
