"""CodeTalker's stage 2: speech -> codes of the stage-1 codebook -> motion.

Attribute names follow the official state dicts (audio_encoder, audio_feature_map, vertice_map,
PPE, transformer_decoder, feat_map, learnable_style_emb; ``autoencoder`` is the stage-1 VQ-VAE)
so ``{vocaset,biwi}_stage2.pth.tar`` loads unchanged but for weight-norm key names.

The audio path is FaceFormer's (the same wav2vec2 encoder with the 50 Hz -> frame-rate
resampling before the Transformer encoder): its methods are reused as they are.  The decoder is
``nn.TransformerDecoder`` (post-norm, ReLU) under FaceFormer's ALiBi causal mask and alignment
memory mask.

Official inference (``predict``), step t: decode tokens 0..t, map the output through
``feat_map``, quantise every frame's code vector to the codebook, decode the whole prefix of
codes with the VQ decoder (at t = 0 the single frame is duplicated, so the instance
normalisation sees two frames, and the first row is kept), feed ``vertice_map(last frame) +
style`` back; after the loop the codes are quantised and decoded once more.  :meth:`generate`
gives the same values with less work: decoder keys/values are cached (the decoder is causal, so
earlier rows do not change), codes are quantised once per frame, the VQ decoder's final block
and output projection run for the last row only inside the loop, and several speaker
conditions share one audio encoding and run as one batch.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..faceformer.incremental import IncrementalDecoder
from ..faceformer.masks import (
    PeriodicPositionalEncoding,
    biased_causal_mask,
    memory_mask,
)
from ..faceformer.model import FaceFormer, build_audio_encoder
from .config import SpeechConfig, VQConfig
from .vqvae import VQAutoEncoder


class CodeTalker(nn.Module):
    def __init__(self, config: SpeechConfig, vq_config: VQConfig, allow_download: bool = False, initialise: bool = True):
        super().__init__()
        self.config, self.vq_config = config, vq_config
        d = config.d_model
        self.audio_encoder = build_audio_encoder(config, allow_download, initialise)
        self.audio_feature_map = nn.Linear(self.audio_encoder.config.hidden_size, d)
        self.vertice_map = nn.Linear(config.n_vertices * 3, d)
        self.PPE = PeriodicPositionalEncoding(d, config.period)
        layer = nn.TransformerDecoderLayer(d, config.heads, config.ffn, dropout=0.1, batch_first=True)
        self.transformer_decoder = nn.TransformerDecoder(layer, num_layers=config.layers)
        self.feat_map = nn.Linear(d, vq_config.frame_code_width, bias=False)
        nn.init.constant_(self.feat_map.weight, 0)
        self.learnable_style_emb = nn.Embedding(max(1, len(config.speakers)), d)
        self.autoencoder = VQAutoEncoder(vq_config)
        for parameter in self.autoencoder.parameters():
            parameter.requires_grad_(False)  # stage 1 stays frozen

    # the audio path is FaceFormer's, unchanged (it reads config.tokens_per_frame and config.fps)
    n_audio_features = FaceFormer.n_audio_features
    frames_from_features = FaceFormer.frames_from_features
    frames_for_audio = FaceFormer.frames_for_audio
    encode_audio = FaceFormer.encode_audio
    _spec_augment = FaceFormer._spec_augment

    def style(self, speaker: torch.Tensor) -> torch.Tensor:
        """(B,) training-speaker indices -> (B, d) style embeddings."""
        return self.learnable_style_emb(speaker.clamp(min=0))

    def _decode_tokens(self, tokens: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Full (teacher-forced) pass: tokens (B, T, d) -> feat_map outputs (B, T, frame code width)."""
        b, t, _ = tokens.shape
        tgt_mask = biased_causal_mask(self.config.heads, t, self.config.period, tokens.device).repeat(b, 1, 1)
        mem_mask = memory_mask(t, memory.shape[1], self.config.tokens_per_frame, tokens.device)
        hidden = self.transformer_decoder(self.PPE(tokens), memory.expand(b, -1, -1), tgt_mask=tgt_mask, memory_mask=mem_mask)
        return self.feat_map(hidden)

    def forward_teacher_forced(self, memory: torch.Tensor, style: torch.Tensor, motion: torch.Tensor) -> dict:
        """Training as the official ``forward``: the previous ground-truth frames (the first input
        is zero motion) -> predicted codes, quantised and decoded; returns the predicted motion
        (B, T, V*3), the unquantised codes and the stage-1 codes of the ground truth."""
        previous = torch.cat([torch.zeros_like(motion[:, :1]), motion[:, :-1]], dim=1)
        codes = self._decode_tokens(self.vertice_map(previous) + style[:, None], memory)
        with torch.no_grad():
            target_codes, _ = self.autoencoder.quantise(self.autoencoder.encoder(motion))
        quantised, _ = self.autoencoder.quantise(codes)
        quantised = codes + (quantised - codes).detach()  # straight through, as the official quantiser
        return {"motion": self.autoencoder.decode(quantised), "codes": codes, "target_codes": target_codes}

    def generate(self, memory: torch.Tensor, style: torch.Tensor, n_frames: int,
                 on_step: Callable[[int], None] | None = None) -> torch.Tensor:
        """The official autoregressive ``predict`` for B styles (B, d) sharing ``memory`` (1 or B,
        S, d) -> motion (B, T, V*3) (template not added); eval mode; ``on_step(t)`` after each frame."""
        if n_frames < 2:
            raise ValueError(f"{n_frames} frame(s): CodeTalker's VQ decoder needs at least 2")
        decoders = [IncrementalDecoder(layer, memory, self.config.heads, self.config.period,
                                       self.config.tokens_per_frame, n_frames)
                    for layer in self.transformer_decoder.layers]
        positions = self.PPE.encoding(n_frames).to(style)
        vq = self.autoencoder
        token, codes = style, []
        for t in range(n_frames):
            x = token + positions[t]
            for decoder in decoders:
                x = decoder.step(x)
            codes.append(vq.quantise(self.feat_map(x))[0])
            if t < n_frames - 1:
                prefix = torch.stack(codes, dim=1)
                if t == 0:
                    prefix = torch.cat([prefix, prefix], dim=1)  # the duplicated first token
                last = vq.decode(prefix, last_rows=1)[:, -1]
                token = self.vertice_map(last) + style
            if on_step is not None:
                on_step(t + 1)
        return vq.decode(torch.stack(codes, dim=1))
