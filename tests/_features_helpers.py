"""A tiny random-weight wav2vec2 saved with ``save_pretrained`` (loaded back through the real path)."""

from __future__ import annotations

from pathlib import Path


def save_tiny_wav2vec2(folder: Path, feat_extract_norm: str = "group") -> Path:
    """hidden 32, 2 layers, 7 small conv layers with the base model's kernels and strides (320x)."""
    import torch
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    config = Wav2Vec2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
                            conv_dim=(16,) * 7, num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2,
                            feat_extract_norm=feat_extract_norm, do_stable_layer_norm=feat_extract_norm == "layer")
    Wav2Vec2Model(config).save_pretrained(str(folder))
    return folder
