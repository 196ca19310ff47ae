"""wav2vec2-base backbone speed on CPU for new audio, option by option, in one run.

RTF = compute seconds per second of audio (lower is faster; 0.1 = ten times faster than real
time).  Each option is timed round-robin with the others (best of ``--repeats``), so load from
other processes hits all options alike; the load average is printed beside every figure.

Options (histalk_bench.predict.backbone):
  fp32          transformers Wav2Vec2Model as is (all 13 hidden states)
  int8          int8 dynamic quantization of Linear layers (Transformer only)
  int8+cnn      ... and the CNN feature encoder's convolutions as unfold + int8 Linear
  trunc<N>      encoder truncated after hidden state N (exact; for models reading layers <= N)
  int8+cnn+trunc<N>
  onnx / onnx-int8   ONNX Runtime (only when ``onnxruntime`` and ``onnx`` import)
  chunked       --long-seconds audio in 20 s windows with 2 s context (vs. one pass)
Output difference against fp32: cosine similarity of the last hidden state and of all states
(mean over frames, worst layer), and the relative L2 change of HiSTalk's predicted motion
(random-initialised HiSTalk reading all 13 states; weights are random here: base config only).

Usage: python benchmarks/backbone_speed.py [--seconds 8] [--threads 2] [--truncate 6]
       [--long-seconds 60] [--audio FILE.wav] [--vertices 5023]
"""

from __future__ import annotations

import argparse
import copy
import os
import tempfile
import time

import numpy as np
import torch

from histalk_bench.predict.backbone import (chunked_hidden_states, convs_as_linear, quantize_int8, quantize_linear,
                                            truncate_encoder)


def load_average() -> str:
    return f"load {os.getloadavg()[0]:.2f}"


def states_fn(network):
    """audio (N,) normalised -> (T, L+1, D) float32 numpy."""
    def run(audio):
        with torch.inference_mode():
            out = network(torch.from_numpy(np.ascontiguousarray(audio))[None], output_hidden_states=True)
        return torch.stack(out.hidden_states, dim=2)[0].float().numpy()
    return run


def onnx_fn(network, audio, quantized: bool, threads: int):
    """An ONNX Runtime session for ``network`` (exported with a dynamic length), as states_fn."""
    import onnxruntime as ort

    class Wrapper(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, x):
            return torch.stack(self.inner(x, output_hidden_states=True).hidden_states, dim=2)

    folder = tempfile.mkdtemp(prefix="w2v-onnx-")
    path = os.path.join(folder, "w2v.onnx")
    torch.onnx.export(Wrapper(network).eval(), (torch.from_numpy(audio[: 16000 * 2])[None],), path, dynamo=False,
                      input_names=["audio"], output_names=["states"], opset_version=17,
                      dynamic_axes={"audio": {1: "n"}, "states": {1: "t"}})
    if quantized:
        from onnxruntime.quantization import QuantType, quantize_dynamic

        quantize_dynamic(path, path + ".int8", weight_type=QuantType.QInt8)
        path = path + ".int8"
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return lambda a: session.run(None, {"audio": np.ascontiguousarray(a)[None]})[0][0]


def round_robin(functions: dict, audio: np.ndarray, repeats: int) -> dict:
    """{name: best seconds}: each function warmed once, then called in turn ``repeats`` times."""
    best = {name: float("inf") for name in functions}
    for function in functions.values():
        function(audio)
    for _ in range(repeats):
        for name, function in functions.items():
            start = time.perf_counter()
            function(audio)
            best[name] = min(best[name], time.perf_counter() - start)
    return best


def cosine(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-frame cosine similarity over the last axis."""
    return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + 1e-12)


def histalk_runner(n_layers: int, n_frames: int, vertices: int):
    """features (T_f, L, 768) -> motion (T, V, 3) of a seeded random HiSTalk, and its own timing."""
    from histalk_bench.models.data import collate, model_inputs
    from histalk_bench.models.histalk.config import HiSTalkConfig
    from histalk_bench.models.histalk.model import HiSTalk

    torch.manual_seed(0)
    config = HiSTalkConfig(n_vertices=vertices, n_landmarks=68, feature_layers=n_layers, feature_dim=768,
                           speakers=("a", "b"), fps=30.0)
    model = HiSTalk(config).eval()
    with torch.no_grad():  # zero-initialised output layers would give zero motion for any input
        for parameter in model.parameters():
            if parameter.dim() > 1 and not parameter.any():
                parameter.normal_(0.0, 0.02)

    def run(features):
        item = {**model_inputs(features, 50.0, "wav2vec2", n_frames, 30.0, "statistical"), "key": "x", "speaker": 0}
        with torch.inference_mode():
            return model(collate([item]))["motion"][0].numpy()
    return run


def audio_input(path: str | None, seconds: float) -> np.ndarray:
    from histalk_bench.common.audio import read_audio_16k
    from histalk_bench.features.wav2vec2 import normalise

    if path:
        audio = read_audio_16k(path)
        audio = np.tile(audio, int(np.ceil(seconds * 16000 / len(audio))))
    else:
        rng = np.random.default_rng(0)
        t = np.arange(int(seconds * 16000)) / 16000
        audio = np.sin(2 * np.pi * 140 * t) * (1 + np.sin(2 * np.pi * 3 * t)) + 0.3 * rng.normal(size=t.size)
    return normalise(audio[: int(seconds * 16000)])


def build_options(base, args, audio) -> dict:
    options = {"fp32": base}
    options["int8"] = quantize_linear(copy.deepcopy(base))
    options["int8+cnn"] = quantize_int8(copy.deepcopy(base))
    linear = copy.deepcopy(base)
    convs_as_linear(linear)
    options["fp32 cnn-as-linear"] = linear
    functions = {name: states_fn(net) for name, net in options.items()}
    for n in args.truncate:
        trunc = copy.deepcopy(base)
        truncate_encoder(trunc, n)
        functions[f"trunc{n}"] = states_fn(trunc)
        fast = quantize_int8(copy.deepcopy(trunc))
        functions[f"int8+cnn+trunc{n}"] = states_fn(fast)
    try:
        functions["onnx"] = onnx_fn(base, audio, False, args.threads)
        functions["onnx-int8"] = onnx_fn(base, audio, True, args.threads)
    except ImportError as exc:
        print(f"ONNX Runtime options skipped: {exc}")
    base.eval()  # exporting a wrapper restores its (training) mode on the wrapped model
    return functions


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--long-seconds", type=float, default=60.0, help="length for the chunking comparison (0: skip)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--truncate", type=int, nargs="*", default=[6], help="last hidden state kept")
    parser.add_argument("--vertices", type=int, default=5023)
    parser.add_argument("--audio", default=None, help="a speech wav (tiled/cut to --seconds); default a synthetic buzz")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from transformers import Wav2Vec2Config, Wav2Vec2Model

    torch.manual_seed(0)
    base = Wav2Vec2Model(Wav2Vec2Config()).eval()  # wav2vec2-base config, random weights
    audio = audio_input(args.audio, args.seconds)
    print(f"{args.threads} torch threads, {args.seconds:g} s of audio; {load_average()} before")
    functions = build_options(base, args, audio)
    times = round_robin(functions, audio, args.repeats)
    print(f"timed round-robin, best of {args.repeats}; {load_average()} after")
    reference = functions["fp32"](audio)
    n_frames = round(args.seconds * 30)
    model = histalk_runner(reference.shape[1], n_frames, args.vertices)
    motion_ref = model(reference)
    histalk_s = round_robin({"histalk": model}, reference, args.repeats)["histalk"]
    print(f"{'option':22s} {'backbone RTF':>12s} {'+HiSTalk RTF':>12s} {'cos last':>9s} {'cos worst layer':>15s} {'motion rel.diff':>15s}")
    for name, seconds in times.items():
        states = functions[name](audio)
        kept = states.shape[1]
        cos_last = cosine(states[:, -1], reference[:, kept - 1]).mean()
        cos_layers = min(cosine(states[:, i], reference[:, i]).mean() for i in range(kept))
        if kept == reference.shape[1]:
            motion = model(states)
            diff = f"{np.linalg.norm(motion - motion_ref) / np.linalg.norm(motion_ref):15.4f}"
        else:
            diff = f"{'(fewer states)':>15s}"
        print(f"{name:22s} {seconds / args.seconds:12.3f} {(seconds + histalk_s) / args.seconds:12.3f} "
              f"{cos_last:9.4f} {cos_layers:15.4f} {diff}")
    print(f"HiSTalk alone ({args.vertices} vertices, 13 states mixed): RTF {histalk_s / args.seconds:.3f}; {load_average()}")
    if args.long_seconds:
        chunking(functions, args)


def chunking(functions: dict, args) -> None:
    """One pass vs 20 s windows with 2 s context on --long-seconds of audio (int8+cnn backbone)."""
    long_audio = audio_input(args.audio, args.long_seconds)
    run = functions["int8+cnn"]
    chunked = lambda a: chunked_hidden_states(run, a, 20.0, 2.0)
    times = round_robin({"one pass": run, "chunked 20s+2s": chunked}, long_audio, max(1, args.repeats - 1))
    whole, parts = run(long_audio), chunked(long_audio)
    cos = cosine(parts[:, -1], whole[:, -1])
    print(f"{args.long_seconds:g} s audio, int8+cnn: one pass RTF {times['one pass'] / args.long_seconds:.3f}, "
          f"chunked RTF {times['chunked 20s+2s'] / args.long_seconds:.3f}; cos last state mean {cos.mean():.4f} "
          f"min {cos.min():.4f}; {load_average()}")


if __name__ == "__main__":
    main()
