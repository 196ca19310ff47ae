"""Test helpers for SelfTalk: state dicts with the layout of the released vocaset.pth / BIWI.pth,
and a straightforward re-statement of the official inference (``SelfTalk.predict`` with its
``pipeline_hidden_states`` 30 s windows and the custom wav2vec2 forward) written independently
of histalk_bench.models.selftalk.

The released encoder is wav2vec2-large-xlsr-53-english (24 layers, width 1024, 16 heads, FFN 4096,
seven 512-channel convolutions with bias and layer norm, stable layer norm, positional conv
kernel 128 in 16 groups).  Here only the depth and width are reduced (REDUCED_XLSR); every name,
the layout and the convolution stack are the release's.  The training-only entries are present
with their names (text_encoder.* a Wav2Vec2ForCTC, lip_map, transformer.* an nn.Transformer,
lm_head to the 33-token vocabulary), some smaller than released since they are never used.
"""

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

REDUCED_XLSR = {"hidden_size": 256, "num_hidden_layers": 2, "num_attention_heads": 4, "intermediate_size": 1024,
                "conv_dim": (512,) * 7, "conv_stride": (5, 2, 2, 2, 2, 2, 2), "conv_kernel": (10, 3, 3, 3, 3, 2, 2),
                "conv_bias": True, "feat_extract_norm": "layer", "do_stable_layer_norm": True,
                "num_conv_pos_embeddings": 128, "num_conv_pos_embedding_groups": 16, "vocab_size": 33}
FEATURE_DIM = {"vocaset": 512, "BIWI": 1024}  # the official --feature_dim
LIP_ENTRIES = {"vocaset": 254, "BIWI": 4996}


def _old_weight_norm_names(state: dict) -> dict:
    """Current parametrization names -> the weight_g/weight_v names of the transformers the release used."""
    return {k.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v"): v
            for k, v in state.items()}


def official_state(dataset: str, n_vertices: int, seed: int, encoder: dict = REDUCED_XLSR,
                   training_keys: bool = True) -> dict:
    """A state dict named and shaped as the release (``dataset`` 'vocaset' or 'BIWI'), random weights."""
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC, Wav2Vec2Model

    torch.manual_seed(seed)
    config = Wav2Vec2Config(**encoder)
    state = {"audio_encoder." + k: v.clone() for k, v in _old_weight_norm_names(Wav2Vec2Model(config).state_dict()).items()}
    d, hidden = FEATURE_DIM[dataset], encoder["hidden_size"]
    width_in = hidden if dataset == "vocaset" else 2 * hidden
    layer = nn.TransformerDecoderLayer(d, 4, 2 * d, batch_first=True)
    state.update({"transformer_decoder.layers.0." + k: v.clone() for k, v in layer.state_dict().items()})
    state["audio_feature_map.weight"] = torch.randn(d, width_in) / width_in ** 0.5
    state["audio_feature_map.bias"] = torch.randn(d) * 0.1
    state["vertice_map_r.weight"] = torch.randn(3 * n_vertices, d) * 0.02
    state["vertice_map_r.bias"] = torch.randn(3 * n_vertices) * 0.01
    if training_keys:
        ctc = Wav2Vec2ForCTC(Wav2Vec2Config(**{**encoder, "num_hidden_layers": 1}))
        state.update({"text_encoder." + k: v.clone() for k, v in _old_weight_norm_names(ctc.state_dict()).items()})
        state["lip_map.weight"] = torch.randn(1024, LIP_ENTRIES[dataset] * 3) * 0.01
        state["lip_map.bias"] = torch.zeros(1024)
        transformer = nn.Transformer(d_model=64, nhead=4, num_encoder_layers=1, num_decoder_layers=1,
                                     dim_feedforward=64, batch_first=True)
        state.update({"transformer." + k: v.clone() for k, v in transformer.state_dict().items()})
        state["lm_head.weight"], state["lm_head.bias"] = torch.randn(33, 1024) * 0.01, torch.zeros(33)
    return state


class OfficialSelfTalk:
    """``SelfTalk.predict(audio, template)`` of the official code, restated: the processor's
    normalisation, 30 s windows encoded apart (VOCASET interpolating each window's CNN features
    50 -> 30 fps before the projection), BIWI's pairing of two 50 Hz vectors, audio_feature_map,
    decoder(x, x) without masks, vertice_map_r, plus the template."""

    def __init__(self, state: dict, dataset: str, encoder: dict = REDUCED_XLSR, window_s: float = 30.0):
        from transformers import Wav2Vec2Config, Wav2Vec2Model

        self.dataset, self.w, self.window = dataset, state, int(16000 * window_s)
        prefix = "audio_encoder."
        self.encoder = Wav2Vec2Model(Wav2Vec2Config(**encoder)).eval()
        self.encoder.load_state_dict({k[len(prefix):].replace("weight_g", "parametrizations.weight.original0")
                                     .replace("weight_v", "parametrizations.weight.original1"): v
                                      for k, v in state.items() if k.startswith(prefix)})
        d = state["audio_feature_map.weight"].shape[0]
        self.decoder = nn.TransformerDecoder(nn.TransformerDecoderLayer(d, 4, 2 * d, batch_first=True), num_layers=1).eval()
        prefix = "transformer_decoder."
        self.decoder.load_state_dict({k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)})

    def _window_hidden(self, audio: torch.Tensor) -> torch.Tensor:
        """The official custom Wav2Vec2Model.forward, eval mode, no attention mask, frame_num None."""
        hidden = self.encoder.feature_extractor(audio).transpose(1, 2)
        if self.dataset == "vocaset":  # linear_interpolation(hidden, 50, 30, output_len=None)
            out_len = int(hidden.shape[1] / float(50) * 30)
            hidden = F.interpolate(hidden.transpose(1, 2), size=out_len, align_corners=True, mode="linear").transpose(1, 2)
        hidden = self.encoder.feature_projection(hidden)[0]
        return self.encoder.encoder(hidden).last_hidden_state

    @torch.no_grad()
    def predict(self, audio_16k: np.ndarray, template: np.ndarray) -> np.ndarray:
        """(T, V, 3) vertices."""
        x = (audio_16k - audio_16k.mean()) / np.sqrt(audio_16k.var() + 1e-7)  # Wav2Vec2Processor, do_normalize
        audio = torch.FloatTensor(x)[None]
        hidden = torch.cat([self._window_hidden(k) for k in torch.split(audio, self.window, dim=1)], 1)
        if self.dataset == "BIWI":
            if hidden.shape[1] % 2 != 0:
                hidden = hidden[:, : hidden.shape[1] - 1]
            hidden = torch.reshape(hidden, (1, hidden.shape[1] // 2, hidden.shape[2] * 2))
        w = self.w
        vertice_input = F.linear(hidden, w["audio_feature_map.weight"], w["audio_feature_map.bias"])
        vertice_out = self.decoder(vertice_input, vertice_input)
        vertice_out = F.linear(vertice_out, w["vertice_map_r.weight"], w["vertice_map_r.bias"])
        vertice_out = vertice_out + torch.FloatTensor(template.reshape(-1))[None, None]
        prediction = vertice_out.squeeze(0)
        return prediction.reshape(prediction.shape[0], -1, 3).numpy()
