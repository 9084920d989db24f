#!/usr/bin/env python3
"""PyTorch baseline for Gemma-3 270M: prefill and decode tokens/s, peak RSS.

The model is Hugging Face transformers' Gemma3ForCausalLM (eager attention,
float32, CPU) holding the weights of a GGUF checkpoint dequantized to float32,
the way tools/reference/make_golden.py builds its oracle (same name mapping,
same "1 + w" norm correction). make_golden.py is not imported: it carries
golden-data code and a virtualenv bootstrap that a benchmark must not run.

Output: exactly one JSON line on stdout (logs go to stderr), read by
bench/baseline_runner.cpp and by people:

  prefill_tokens_per_s  prompt tokens / time of one forward pass over the
                        prompt with an empty KV cache (best of --repeat)
  decode_tokens_per_s   decode tokens / time of --decode-tokens greedy steps,
                        one token each, reusing the KV cache (best of --repeat)
                        Best, not median, as for the machine's peaks: on a
                        shared machine interference only ever slows a run
                        down. The medians and every run are printed too.
  peak_rss_bytes        the process's peak resident set (getrusage), loading
                        included; peak_rss_run_bytes is the peak while only
                        running (the high-water mark is reset after loading,
                        where the kernel allows it)

Why an explicit loop rather than model.generate: the two phases must be timed
separately, and generate's per-step bookkeeping (logits processors, stopping
criteria) is not part of the model's cost. The prefill computes the logits of
the last position only (logits_to_keep=1), as generate does.

Token ids come from a JSON file ({"ids": [...]}, BOS first) so that graphc's
end-to-end benchmark runs the very same ids; bench/gemma3_prompt_ids.json is
the default and --make-ids remakes it from a sentence with the GGUF's own
tokenizer.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_GGUF = HERE.parent / "models" / "gemma-3-270m-Q4_K_M.gguf"
DEFAULT_IDS = HERE / "gemma3_prompt_ids.json"

# A plain English sentence, repeated until the prompt is long enough: real
# token statistics (embedding rows, no special tokens) with fixed ids.
IDS_SENTENCE = (
    "The old lighthouse keeper climbed the spiral stairs every evening, "
    "lit the great lamp, and watched the ships pass safely through the narrow strait. "
)
IDS_COUNT = 512

BOS, EOS, PAD = 2, 1, 0

# Gemma-3 270M, as in tools/reference/make_golden.py (which also checks it
# against the GGUF metadata).
CONFIG = dict(
    vocab_size=262144,
    hidden_size=640,
    intermediate_size=2048,
    num_hidden_layers=18,
    num_attention_heads=4,
    num_key_value_heads=1,
    head_dim=256,
    query_pre_attn_scalar=256,
    sliding_window=512,
    layer_types=["full_attention" if i % 6 == 5 else "sliding_attention" for i in range(18)],
    rope_parameters={
        "full_attention": {"rope_type": "default", "rope_theta": 1_000_000.0},
        "sliding_attention": {"rope_type": "default", "rope_theta": 10_000.0},
    },
    rms_norm_eps=1e-6,
    max_position_embeddings=32768,
    tie_word_embeddings=True,
    hidden_activation="gelu_pytorch_tanh",
    final_logit_softcapping=None,
    attn_logit_softcapping=None,
    attention_bias=False,
    pad_token_id=PAD,
    eos_token_id=EOS,
    bos_token_id=BOS,
)

GLOBAL_NAMES = {
    "token_embd.weight": "model.embed_tokens.weight",
    "output_norm.weight": "model.norm.weight",
}
LAYER_NAMES = {
    "attn_norm": "input_layernorm",
    "attn_q": "self_attn.q_proj",
    "attn_k": "self_attn.k_proj",
    "attn_v": "self_attn.v_proj",
    "attn_q_norm": "self_attn.q_norm",
    "attn_k_norm": "self_attn.k_norm",
    "attn_output": "self_attn.o_proj",
    "post_attention_norm": "post_attention_layernorm",
    "ffn_norm": "pre_feedforward_layernorm",  # the *pre*-FFN norm
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "post_ffw_norm": "post_feedforward_layernorm",
}


def log(msg: str) -> None:
    print(f"pytorch_gemma3: {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> None:
    """One error line and exit 1; the C++ runner reports the line as the skip reason."""
    print(f"pytorch_gemma3: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def hf_name(gguf_name: str) -> str:
    if gguf_name in GLOBAL_NAMES:
        return GLOBAL_NAMES[gguf_name]
    parts = gguf_name.split(".")
    if len(parts) != 4 or parts[0] != "blk" or parts[3] != "weight" or parts[2] not in LAYER_NAMES:
        fail(f"unexpected GGUF tensor {gguf_name}")
    return f"model.layers.{int(parts[1])}.{LAYER_NAMES[parts[2]]}.weight"


def load_model(gguf_path: Path):
    """Gemma3ForCausalLM (eager, f32) with the GGUF's weights dequantized to f32."""
    import numpy as np
    import torch
    from gguf import GGMLQuantizationType, GGUFReader
    from gguf.quants import dequantize
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    reader = GGUFReader(str(gguf_path))
    if reader.fields["general.architecture"].contents() != "gemma3":
        fail(f"{gguf_path} is not a gemma3 checkpoint")
    sd, types = {}, {}
    for t in reader.tensors:
        qtype = GGMLQuantizationType(int(t.tensor_type))
        arr = np.asarray(dequantize(np.asarray(t.data), qtype), dtype=np.float32)
        arr = arr.reshape(tuple(int(n) for n in reversed(t.shape.tolist())))  # GGUF ne is [in, out]
        if t.name.endswith("norm.weight"):
            arr = arr - np.float32(1.0)  # GGUF stores 1 + w; HF stores w and computes 1 + w
        types[qtype.name] = types.get(qtype.name, 0) + 1
        sd[hf_name(t.name)] = torch.from_numpy(np.ascontiguousarray(arr))
    del reader

    config = Gemma3TextConfig(**CONFIG, attn_implementation="eager")
    with torch.no_grad():
        model = Gemma3ForCausalLM(config).to(torch.float32)
        # assign=True adopts the dequantized tensors instead of copying them,
        # so loading does not hold two f32 copies of the model at once.
        missing, unexpected = model.load_state_dict(sd, strict=False, assign=True)
        model.lm_head.weight = model.model.embed_tokens.weight
    if unexpected or set(missing) - {"lm_head.weight"}:
        fail(f"state dict mismatch: missing {missing}, unexpected {unexpected}")
    if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        fail("lm_head is not tied to embed_tokens")
    if model.config._attn_implementation != "eager":
        fail(f"attention implementation is {model.config._attn_implementation}, not eager")
    model.eval()
    n_params = sum(p.numel() for p in model.parameters())
    return model, types, n_params


def make_ids(gguf_path: Path, out: Path) -> None:
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    one = tok(IDS_SENTENCE, add_special_tokens=False)["input_ids"]
    ids = [BOS]
    while len(ids) < IDS_COUNT:
        ids += one
    ids = ids[:IDS_COUNT]
    doc = {
        "description": (
            f"Gemma-3 prompt token ids for the benchmarks: <bos> then the sentence below repeated, "
            f"cut at {IDS_COUNT} ids; a prompt of N tokens is the first N. Made by "
            f"bench/pytorch_gemma3.py --make-ids with the tokenizer of {gguf_path.name}."
        ),
        "sentence": IDS_SENTENCE,
        "ids": ids,
    }
    out.write_text(json.dumps(doc, ensure_ascii=False) + "\n", encoding="utf-8")
    log(f"wrote {len(ids)} ids to {out} (the sentence is {len(one)} tokens)")


def read_ids(path: Path, count: int) -> list[int]:
    try:
        ids = json.loads(path.read_text(encoding="utf-8"))["ids"]
    except (OSError, ValueError, KeyError) as error:
        fail(f"cannot read token ids from {path}: {error}")
    if len(ids) < count:
        fail(f"{path} has {len(ids)} ids, --prompt-tokens asks for {count}")
    return [int(i) for i in ids[:count]]


def reset_peak_rss() -> bool:
    """Resets the kernel's RSS high-water mark to the current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def release_freed_memory() -> None:
    """Hands memory freed by loading back to the OS (glibc keeps it otherwise).

    Building the model allocates randomly initialised parameters that the
    checkpoint's tensors then replace; without this their pages stay
    resident and the running peak would count the model twice.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def peak_rss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB


def run_once(model, ids: list[int], decode_tokens: int):
    """(prefill seconds, decode seconds, greedy ids) for one prompt."""
    import torch

    x = torch.tensor([ids], dtype=torch.long)
    t0 = time.perf_counter()
    out = model(input_ids=x, use_cache=True, logits_to_keep=1)
    t1 = time.perf_counter()
    cache = out.past_key_values
    nxt = int(out.logits[0, -1].argmax())
    generated = []
    t2 = time.perf_counter()
    for _ in range(decode_tokens):
        generated.append(nxt)
        out = model(input_ids=torch.tensor([[nxt]]), past_key_values=cache, use_cache=True)
        cache = out.past_key_values
        nxt = int(out.logits[0, -1].argmax())
    t3 = time.perf_counter()
    return t1 - t0, t3 - t2, generated


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, default=DEFAULT_GGUF, help="GGUF checkpoint (default: %(default)s)")
    ap.add_argument("--ids", type=Path, default=DEFAULT_IDS, help="JSON {\"ids\": [...]} (default: %(default)s)")
    ap.add_argument("--prompt-tokens", type=int, default=128)
    ap.add_argument("--decode-tokens", type=int, default=128)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--repeat", type=int, default=3, help="timed runs after one warm-up run")
    ap.add_argument("--make-ids", type=Path, metavar="OUT", help="write the prompt ids file and exit")
    args = ap.parse_args()

    gguf_path = args.gguf.resolve()
    if not gguf_path.exists():
        fail(f"{gguf_path} not found; run scripts/fetch-weights.sh first")
    if args.make_ids:
        make_ids(gguf_path, args.make_ids)
        return
    if args.prompt_tokens < 1 or args.decode_tokens < 1 or args.threads < 1 or args.repeat < 1:
        fail("--prompt-tokens, --decode-tokens, --threads and --repeat must be >= 1")

    import torch
    import transformers

    torch.set_num_threads(args.threads)
    ids = read_ids(args.ids, args.prompt_tokens)

    load_before = os.getloadavg()[0]
    log(f"loading {gguf_path.name} (dequantized to float32)")
    t = time.perf_counter()
    model, types, n_params = load_model(gguf_path)
    load_s = time.perf_counter() - t
    peak_load = peak_rss_bytes()
    release_freed_memory()
    rss_reset = reset_peak_rss()

    with torch.inference_mode():
        log(f"warm-up: {args.prompt_tokens} prompt tokens, {args.decode_tokens} decode steps, "
            f"{args.threads} threads")
        run_once(model, ids, args.decode_tokens)
        prefill, decode = [], []
        greedy = None
        for r in range(args.repeat):
            p, d, greedy = run_once(model, ids, args.decode_tokens)
            prefill.append(args.prompt_tokens / p)
            decode.append(args.decode_tokens / d)
            log(f"run {r + 1}/{args.repeat}: prefill {prefill[-1]:.1f} tok/s, decode {decode[-1]:.2f} tok/s")
    peak_run = peak_rss_bytes()

    print(json.dumps({
        "baseline": "pytorch-eager-f32",
        "model": gguf_path.name,
        "weights": {"stored_types": types, "parameters": n_params, "dtype": "float32"},
        "threads": args.threads,
        "prompt_tokens": args.prompt_tokens,
        "decode_tokens": args.decode_tokens,
        "repeat": args.repeat,
        "prefill_tokens_per_s": max(prefill),
        "decode_tokens_per_s": max(decode),
        "prefill_tokens_per_s_median": statistics.median(prefill),
        "decode_tokens_per_s_median": statistics.median(decode),
        "prefill_tokens_per_s_runs": prefill,
        "decode_tokens_per_s_runs": decode,
        "peak_rss_bytes": max(peak_load, peak_run),
        "peak_rss_run_bytes": peak_run if rss_reset else None,
        "load_seconds": load_s,
        "loadavg_1min": [load_before, os.getloadavg()[0]],  # before loading, after the runs
        "greedy_ids": greedy,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "attn_implementation": model.config._attn_implementation,
    }), flush=True)


if __name__ == "__main__":
    main()
