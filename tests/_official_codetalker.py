"""CodeTalker's official inference, restated step by step in plain torch for the tests and the
benchmark (independent of histalk_bench.models.codetalker), and official-layout state dicts.

``official_stage1_state`` / ``official_stage2_state`` build ``{'state_dict': ...}`` contents with
the released key names (``encoder.*``, ``decoder.*``, ``quantize.embedding.weight``;
``audio_encoder.*`` with old weight_g/weight_v names, ``audio_feature_map``, ``vertice_map``,
``PPE.pe``, ``transformer_decoder.layers.N.*``, ``feat_map``, ``learnable_style_emb``) and
shapes derived from the given sizes (the release: width 1024, 6 blocks of MLP 1536, codebook
256 x 64 with 16 codes per frame (VOCASET) or 256 x 128 with 8 (BIWI), stage 2 of 6 / 12
layers).  ``OfficialCodeTalker.predict`` is the official ``predict`` loop: full recompute of the
whole prefix at every step, one speaker condition at a time.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


# ---------------------------------------------------------------- official-layout state dicts
def _sinusoid(n: int, d: int) -> torch.Tensor:
    position = torch.arange(n, dtype=torch.float)[:, None]
    div = torch.exp(torch.arange(0, d, 2).float() * (-math.log(10000.0) / d))
    pe = torch.zeros(n, d)
    pe[:, 0::2], pe[:, 1::2] = torch.sin(position * div), torch.cos(position * div)
    return pe


def _lin(state, name, n_out, n_in, bias=True, scale=None):
    scale = scale if scale is not None else 1.0 / math.sqrt(n_in)
    state[name + ".weight"] = torch.randn(n_out, n_in) * scale
    if bias:
        state[name + ".bias"] = torch.randn(n_out) * 0.05


def _blocks(state, prefix, width, depth, mlp):
    for i in range(depth):
        a, m = f"{prefix}.net.{2 * i}.fn", f"{prefix}.net.{2 * i + 1}.fn"
        for p in (a, m):
            state[p + ".norm.weight"] = 1 + 0.1 * torch.randn(width)
            state[p + ".norm.bias"] = 0.1 * torch.randn(width)
        _lin(state, a + ".fn.to_qkv", 3 * width, width, bias=False, scale=2.0 / math.sqrt(width))
        _lin(state, a + ".fn.to_out", width, width)
        _lin(state, m + ".fn.l1", mlp, width)
        _lin(state, m + ".fn.l2", width, mlp)


def official_stage1_state(n_vertices: int, biwi: bool, hidden: int = 1024, depth: int = 6, mlp: int = 1536,
                          n_codes: int = 256, code_dim: int | None = None, seed: int = 0) -> dict:
    """The stage-1 VQ-VAE's state dict (VOCASET layout, or BIWI's with its extra projections and
    no output bias).  VOCASET: codes_per_frame * code_dim == hidden (1024 = 16 x 64)."""
    torch.manual_seed(seed)
    code_dim = code_dim or (hidden // 8 if biwi else hidden // 16)
    frame_width = 8 * code_dim if biwi else hidden
    s: dict = {}
    _lin(s, "encoder.vertice_mapping.0", hidden, 3 * n_vertices)
    s["encoder.squasher.0.0.weight"] = torch.randn(hidden, hidden, 5) / math.sqrt(5 * hidden)
    s["encoder.squasher.0.0.bias"] = 0.05 * torch.randn(hidden)
    _blocks(s, "encoder.encoder_transformer", hidden, depth, mlp)
    s["encoder.encoder_pos_embedding.pe"] = _sinusoid(5000, hidden)[:, None]
    _lin(s, "encoder.encoder_linear_embedding.net", hidden, hidden)
    if biwi:
        _lin(s, "encoder.encoder_linear_embedding_post.net", frame_width, hidden)
        _lin(s, "decoder.decoder_linear_embedding_pre.net", hidden, frame_width)
    s["decoder.expander.0.0.weight"] = torch.randn(hidden, hidden, 5) / math.sqrt(5 * hidden)
    s["decoder.expander.0.0.bias"] = 0.05 * torch.randn(hidden)
    _blocks(s, "decoder.decoder_transformer", hidden, depth, mlp)
    s["decoder.decoder_pos_embedding.pe"] = _sinusoid(5000, hidden)[:, None]
    _lin(s, "decoder.decoder_linear_embedding.net", hidden, hidden)
    _lin(s, "decoder.vertice_map_reverse", 3 * n_vertices, hidden, bias=not biwi, scale=0.01 / math.sqrt(hidden))
    s["quantize.embedding.weight"] = torch.randn(n_codes, code_dim)
    return s


def official_stage2_state(n_vertices: int, biwi: bool, frame_code_width: int, d: int = 1024, layers: int = 6,
                          n_speakers: int | None = None, encoder_config: dict | None = None, seed: int = 0) -> dict:
    """The stage-2 state dict as released: no ``autoencoder.*`` keys; wav2vec2 weight-norm keys
    under their old names."""
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(seed)
    encoder = Wav2Vec2Model(Wav2Vec2Config(**(encoder_config or {"num_hidden_layers": 1})))
    s: dict = {}
    for key, value in encoder.state_dict().items():
        key = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        s["audio_encoder." + key] = value.clone()
    hidden = encoder.config.hidden_size
    _lin(s, "audio_feature_map", d, hidden)
    _lin(s, "vertice_map", d, 3 * n_vertices, scale=3.0 / math.sqrt(3 * n_vertices))
    period = 25 if biwi else 30
    s["PPE.pe"] = _sinusoid(period, d)[None].repeat(1, 600 // period + 1, 1)
    layer = nn.TransformerDecoderLayer(d, 4, 2 * d, batch_first=True)
    for i in range(layers):
        for k, v in layer.state_dict().items():
            s[f"transformer_decoder.layers.{i}.{k}"] = v.clone() + (0.02 * torch.randn_like(v) if v.ndim == 1 else 0)
    s["feat_map.weight"] = torch.randn(frame_code_width, d) / math.sqrt(d)
    s["learnable_style_emb.weight"] = torch.randn(n_speakers or (6 if biwi else 8), d)
    return s


# ---------------------------------------------------------------- the official modules, restated
def official_gelu(x):
    return x * 0.5 * (1.0 + torch.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * torch.pow(x, 3))))


class OfficialVQ:
    """Stage 1 as the official VQAutoEncoder computes it (weights read from the state dict)."""

    def __init__(self, state: dict, biwi: bool, heads: int = 8):
        self.w, self.biwi, self.heads = state, biwi, heads
        self.code_dim = state["quantize.embedding.weight"].shape[1]
        self.hidden = state["decoder.decoder_linear_embedding.net.weight"].shape[0]
        self.face_quan_num = (state["decoder.decoder_linear_embedding_pre.net.weight"].shape[1] if biwi else self.hidden) // self.code_dim
        self.depth = len({k.split(".")[3] for k in state if k.startswith("decoder.decoder_transformer.net.")}) // 2

    def quantize(self, z):
        """VectorQuantizer.forward (eval values): z (B, N, e_dim) -> z_q permuted to (B, e_dim, N)."""
        e = self.w["quantize.embedding.weight"]
        z_flattened = z.reshape(-1, self.code_dim)
        d = torch.sum(z_flattened ** 2, dim=1, keepdim=True) + torch.sum(e ** 2, dim=1) - 2 * torch.matmul(z_flattened, e.t())
        idx = torch.argmin(d, dim=1).unsqueeze(1)
        one_hot = torch.zeros(idx.shape[0], e.shape[0]).to(z)
        one_hot.scatter_(1, idx, 1)
        z_q = torch.matmul(one_hot, e).view(z.shape)
        return z_q.permute(0, 2, 1).contiguous()

    def transformer(self, prefix, x):
        w, width = self.w, x.shape[-1]
        for i in range(self.depth):
            a, m = f"{prefix}.net.{2 * i}.fn", f"{prefix}.net.{2 * i + 1}.fn"
            h = F.layer_norm(x, (width,), w[a + ".norm.weight"], w[a + ".norm.bias"], 1e-5)
            qkv = F.linear(h, w[a + ".fn.to_qkv.weight"])
            b, n, _ = qkv.shape
            qkv = qkv.view(b, n, 3, self.heads, width // self.heads).permute(2, 0, 3, 1, 4)  # "b n (qkv h d) -> qkv b h n d"
            q, k, v = qkv[0], qkv[1], qkv[2]
            dots = torch.einsum("bhid,bhjd->bhij", q, k) * width ** -0.5  # dim**-0.5 with dim = width
            attn = F.softmax(dots, dim=-1)
            out = torch.einsum("bhij,bhjd->bhid", attn, v).permute(0, 2, 1, 3).reshape(b, n, width)
            x = x + F.linear(out, w[a + ".fn.to_out.weight"], w[a + ".fn.to_out.bias"])
            h = F.layer_norm(x, (width,), w[m + ".norm.weight"], w[m + ".norm.bias"], 1e-5)
            x = x + F.linear(official_gelu(F.linear(h, w[m + ".fn.l1.weight"], w[m + ".fn.l1.bias"])),
                             w[m + ".fn.l2.weight"], w[m + ".fn.l2.bias"])
        return x

    def decode(self, quant):
        """VQAutoEncoder.decode: quant (B, e_dim, L * face_quan_num) -> (B, L, V*3)."""
        w = self.w
        quant = quant.permute(0, 2, 1)
        quant = quant.reshape(quant.shape[0], -1, self.face_quan_num, self.code_dim)
        quant = quant.reshape(quant.shape[0], -1, self.face_quan_num * self.code_dim)
        inputs = quant.permute(0, 2, 1).contiguous()  # BCL
        if self.biwi:
            inputs = F.linear(inputs.permute(0, 2, 1), w["decoder.decoder_linear_embedding_pre.net.weight"],
                              w["decoder.decoder_linear_embedding_pre.net.bias"]).permute(0, 2, 1)
        inputs = F.conv1d(F.pad(inputs, (2, 2), mode="replicate"), w["decoder.expander.0.0.weight"], w["decoder.expander.0.0.bias"])
        inputs = F.instance_norm(F.leaky_relu(inputs, 0.2), eps=1e-5)
        inputs = inputs.permute(0, 2, 1)
        x = F.linear(inputs, w["decoder.decoder_linear_embedding.net.weight"], w["decoder.decoder_linear_embedding.net.bias"])
        x = x + w["decoder.decoder_pos_embedding.pe"][: x.size(0), :]  # (5000, 1, C) added to a batch-first tensor
        x = self.transformer("decoder.decoder_transformer", x)
        return F.linear(x, w["decoder.vertice_map_reverse.weight"], w.get("decoder.vertice_map_reverse.bias"))


def official_biased_mask(n_head: int, max_seq_len: int, period: int) -> torch.Tensor:
    start = 2 ** (-2 ** -(math.log2(n_head) - 3))
    slopes = torch.tensor([start * start ** i for i in range(n_head)])
    bias = torch.div(torch.arange(0, max_seq_len, period).unsqueeze(1).repeat(1, period).view(-1), period, rounding_mode="floor")
    bias = -torch.flip(bias, dims=[0])
    alibi = torch.zeros(max_seq_len, max_seq_len)
    for i in range(max_seq_len):
        alibi[i, : i + 1] = bias[-(i + 1):]
    alibi = slopes[:, None, None] * alibi[None]
    mask = (torch.triu(torch.ones(max_seq_len, max_seq_len)) == 1).transpose(0, 1)
    mask = mask.float().masked_fill(mask == 0, float("-inf")).masked_fill(mask == 1, 0.0)
    return mask[None] + alibi


def official_enc_dec_mask(biwi: bool, t: int, s: int) -> torch.Tensor:
    mask = torch.ones(t, s)
    for i in range(t):
        if biwi:
            mask[i, i * 2 : i * 2 + 2] = 0
        else:
            mask[i, i] = 0
    return mask == 1


class OfficialCodeTalker:
    """The official stage-2 ``predict(audio, template, one_hot)`` with its VQ-VAE from stage 1."""

    def __init__(self, stage2: dict, stage1: dict, biwi: bool, encoder_config: dict | None = None):
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        self.w, self.biwi = stage2, biwi
        self.vq = OfficialVQ(stage1, biwi)
        encoder_state = {k[len("audio_encoder."):].replace("weight_g", "parametrizations.weight.original0")
                         .replace("weight_v", "parametrizations.weight.original1"): v
                         for k, v in stage2.items() if k.startswith("audio_encoder.")}
        self.encoder = Wav2Vec2Model(Wav2Vec2Config(**(encoder_config or {"num_hidden_layers": 1}))).eval()
        self.encoder.load_state_dict(encoder_state, strict=False)
        d = stage2["audio_feature_map.weight"].shape[0]
        n_layers = len({k.split(".")[2] for k in stage2 if k.startswith("transformer_decoder.layers.")})
        layer = nn.TransformerDecoderLayer(d, 4, stage2["transformer_decoder.layers.0.linear1.weight"].shape[0], batch_first=True)
        self.decoder = nn.TransformerDecoder(layer, num_layers=n_layers).eval()
        self.decoder.load_state_dict({k[len("transformer_decoder."):]: v for k, v in stage2.items()
                                      if k.startswith("transformer_decoder.")})
        self.biased_mask = official_biased_mask(4, 600, 25 if biwi else 30)
        self.device = torch.device("cpu")

    def to(self, device) -> OfficialCodeTalker:
        """Every weight on ``device`` (the official test runs on CUDA)."""
        self.device = torch.device(device)
        self.w = {k: v.to(device) for k, v in self.w.items()}
        self.vq.w = {k: v.to(device) for k, v in self.vq.w.items()}
        self.encoder, self.decoder = self.encoder.to(device), self.decoder.to(device)
        self.biased_mask = self.biased_mask.to(device)
        return self

    def audio_hidden(self, audio_16k: np.ndarray) -> torch.Tensor:
        """The official Wav2Vec2Model forward on processor-normalised audio (frame_num None)."""
        x = (audio_16k - audio_16k.mean()) / np.sqrt(audio_16k.var() + 1e-7)
        hidden = self.encoder.feature_extractor(torch.from_numpy(x.astype(np.float32))[None].to(self.device)).transpose(1, 2)
        if self.biwi:
            if hidden.shape[1] % 2 != 0:
                hidden = hidden[:, :-1]
        else:
            output_len = int(hidden.shape[1] / float(50) * 30)
            hidden = F.interpolate(hidden.transpose(1, 2), size=output_len, align_corners=True, mode="linear").transpose(1, 2)
        hidden = self.encoder.feature_projection(hidden)[0]
        return self.encoder.encoder(hidden).last_hidden_state

    def predict(self, audio_hidden: torch.Tensor, template: np.ndarray, speaker: int) -> np.ndarray:
        """(T, V, 3): the official loop for one speaker condition."""
        w, vq = self.w, self.vq
        template_t = torch.from_numpy(template.reshape(1, 1, -1).astype(np.float32)).to(self.device)
        obj_embedding = w["learnable_style_emb.weight"][speaker][None].unsqueeze(1)
        frame_num = audio_hidden.shape[1] // 2 if self.biwi else audio_hidden.shape[1]
        hidden_states = F.linear(audio_hidden, w["audio_feature_map.weight"], w["audio_feature_map.bias"])
        pe = w["PPE.pe"]
        for i in range(frame_num):
            if i == 0:
                vertice_emb = obj_embedding
                style_emb = vertice_emb
                vertice_input = style_emb + pe[:, : style_emb.size(1)]
            else:
                vertice_input = vertice_emb + pe[:, : vertice_emb.size(1)]
            n = vertice_input.shape[1]
            feat_out = self.decoder(vertice_input, hidden_states, tgt_mask=self.biased_mask[:, :n, :n],
                                    memory_mask=official_enc_dec_mask(self.biwi, n, hidden_states.shape[1]).to(self.device))
            feat_out = F.linear(feat_out, w["feat_map.weight"])
            feat_out = feat_out.reshape(feat_out.shape[0], feat_out.shape[1] * vq.face_quan_num, -1)
            feat_out_q = vq.quantize(feat_out)
            if i == 0:
                vertice_out_q = vq.decode(torch.cat([feat_out_q, feat_out_q], dim=-1))
                vertice_out_q = vertice_out_q[:, 0].unsqueeze(1)
            else:
                vertice_out_q = vq.decode(feat_out_q)
            if i != frame_num - 1:
                new_output = F.linear(vertice_out_q[:, -1, :], w["vertice_map.weight"], w["vertice_map.bias"]).unsqueeze(1)
                vertice_emb = torch.cat((vertice_emb, new_output + style_emb), 1)
        feat_out_q = vq.quantize(feat_out)
        vertice_out = vq.decode(feat_out_q) + template_t
        return vertice_out[0].reshape(frame_num, -1, 3).cpu().numpy()
