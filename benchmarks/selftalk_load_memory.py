"""Peak memory while loading a full-size SelfTalk checkpoint (the released vocaset.pth / BIWI.pth layout).

Writes a file with random tensors under every name and shape of the release (wav2vec2-large-xlsr
audio encoder, 24 layers x 1024; the frozen text_encoder Wav2Vec2ForCTC copy; lip_map; the
nn.Transformer of width 1024; lm_head; decoder and output map), then measures, each in a fresh
process, the peak resident set size (/proc/self/status VmHWM: anonymous and file-backed pages) of

  imports      python + torch + transformers + histalk_bench's SelfTalk modules, nothing loaded
  selftalk     histalk_bench.models.selftalk.checkpoint.load_model (mmap, inference tensors only,
               assigned to a meta-device network: nothing copied, training-only tensors untouched)
  selftalk+run the same, then one prediction for --seconds of audio
  naive        torch.load of the whole file (weights_only=True) + load_state_dict into an
               initialised network, as the official test() does

Usage: python benchmarks/selftalk_load_memory.py [--dataset vocaset|biwi] [--seconds 4] [--keep FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

XLSR = {"hidden_size": 1024, "num_hidden_layers": 24, "num_attention_heads": 16, "intermediate_size": 4096,
        "conv_bias": True, "feat_extract_norm": "layer", "do_stable_layer_norm": True, "vocab_size": 33}
RELEASE = {"vocaset": {"d": 512, "vertices": 5023, "lip": 254, "features_per_frame": 1},
           "biwi": {"d": 1024, "vertices": 23370, "lip": 4996, "features_per_frame": 2}}


def write_release_layout(path: Path, dataset: str) -> dict:
    """Random tensors with the release's names and shapes; returns sizes in bytes by group."""
    import torch
    from torch import nn
    from transformers import Wav2Vec2Config, Wav2Vec2ForCTC, Wav2Vec2Model

    spec = RELEASE[dataset]
    config = Wav2Vec2Config(**XLSR)
    with torch.device("meta"):
        shapes = {"audio_encoder." + k: v.shape for k, v in Wav2Vec2Model(config).state_dict().items()}
        shapes.update({"text_encoder." + k: v.shape for k, v in Wav2Vec2ForCTC(config).state_dict().items()})
        shapes.update({"transformer." + k: v.shape for k, v in nn.Transformer(d_model=1024, batch_first=True).state_dict().items()})
        d = spec["d"]
        layer = nn.TransformerDecoderLayer(d, 4, 2 * d, batch_first=True)
        shapes.update({"transformer_decoder.layers.0." + k: v.shape for k, v in layer.state_dict().items()})
    shapes.update({"audio_feature_map.weight": (d, 1024 * spec["features_per_frame"]), "audio_feature_map.bias": (d,),
                   "vertice_map_r.weight": (3 * spec["vertices"], d), "vertice_map_r.bias": (3 * spec["vertices"],),
                   "lip_map.weight": (1024, 3 * spec["lip"]), "lip_map.bias": (1024,),
                   "lm_head.weight": (33, 1024), "lm_head.bias": (33,)})
    generator = torch.Generator().manual_seed(0)
    state, sizes = {}, {}
    for key, shape in shapes.items():
        name = key.replace("parametrizations.weight.original0", "weight_g").replace("parametrizations.weight.original1", "weight_v")
        tensor = torch.randn(tuple(shape), generator=generator) * 0.02
        if name.endswith(("norm.weight", "layer_norm.weight", "weight_g")):
            tensor = torch.ones(tuple(shape))
        state[name] = tensor
        group = key.split(".")[0]
        sizes[group] = sizes.get(group, 0) + tensor.numel() * 4
    torch.save(state, path)
    return sizes


MEASURE = r"""
import json, sys, time
import torch
torch.set_num_threads(2)
from histalk_bench.models.selftalk.checkpoint import load_model
from histalk_bench.models.selftalk.model import SelfTalk
mode, path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
def status_mib(field):
    with open("/proc/self/status") as f:
        return next(int(l.split()[1]) for l in f if l.startswith(field + ":")) / 1024
def peak_mib():  # VmHWM: this process's peak RSS (ru_maxrss would carry the parent's peak across exec)
    return status_mib("VmHWM")
def current_mib():
    return status_mib("VmRSS")
out = {"mode": mode, "after_imports_mib": current_mib()}
start = time.perf_counter()
if mode.startswith("selftalk"):
    model = load_model(path)
elif mode == "naive":
    from histalk_bench.models.selftalk.checkpoint import config_from_state
    from histalk_bench.models.official_weights import rename_weight_norm
    state = rename_weight_norm(torch.load(path, map_location="cpu", weights_only=True))
    config = config_from_state(state, path)
    model = SelfTalk(config)
    model.load_state_dict({k: v for k, v in state.items() if not k.startswith(("text_encoder.", "lip_map.", "transformer.", "lm_head."))})
if mode != "imports":
    out["load_s"] = round(time.perf_counter() - start, 2)
    out["rss_after_load_mib"] = current_mib()
    out["inference_params_mib"] = sum(p.numel() * p.element_size() for p in model.parameters()) / 2**20
if mode == "selftalk+run":
    model.eval()
    audio = torch.randn(1, int(16000 * seconds)) * 0.1
    start = time.perf_counter()
    with torch.no_grad():
        frames = model(audio).shape[1]
    out["predict_s"], out["frames"] = round(time.perf_counter() - start, 2), frames
out["peak_rss_mib"] = peak_mib()
print(json.dumps(out))
"""


def measure(mode: str, path: Path, seconds: float) -> dict:
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", MEASURE, mode, str(path), str(seconds)], capture_output=True,
                          text=True, env=env, check=False)
    if done.returncode:
        raise SystemExit(f"{mode} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dataset", choices=sorted(RELEASE), default="vocaset")
    parser.add_argument("--seconds", type=float, default=4.0, help="audio length of the selftalk+run prediction")
    parser.add_argument("--keep", type=Path, default=None, help="write (or reuse) the generated file here")
    parser.add_argument("--modes", default="imports,selftalk,selftalk+run,naive")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = args.keep or Path(tmp) / f"{args.dataset}.pth"
        if not path.exists():
            started = time.perf_counter()
            sizes = write_release_layout(path, args.dataset)
            print(f"wrote {path}: {path.stat().st_size / 2**30:.2f} GiB in {time.perf_counter() - started:.0f} s; "
                  + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sorted(sizes.items())))
        print(f"file {path.stat().st_size / 2**20:.0f} MiB")
        for mode in args.modes.split(","):
            result = measure(mode, path, args.seconds)
            print(json.dumps(result))


if __name__ == "__main__":
    main()
