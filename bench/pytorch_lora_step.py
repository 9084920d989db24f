#!/usr/bin/env python3
"""PyTorch + PEFT baseline for one LoRA fine-tuning step of Gemma-3 270M.

What: the model bench/pytorch_gemma3.py builds (transformers'
Gemma3ForCausalLM, eager attention, float32, CPU, the GGUF's weights
dequantized to float32), wrapped by PEFT with a LoRA adapter on every
attention and MLP projection (q/k/v/o, gate/up/down; rank 16, alpha 32, no
dropout, no bias by default), the base frozen. One training step is the one
graphc's @train_step does: forward over [batch, seq_len] tokens, the mean
next-token cross-entropy (transformers' causal-LM loss), backward,
torch.optim.AdamW over the adapter's parameters, zero_grad.

Run (with the reference virtualenv, tools/reference/README.md):

  .venv-reference/bin/python bench/pytorch_lora_step.py --threads 2
  .venv-reference/bin/python bench/pytorch_lora_step.py --threads 2 --seq-len 128 --batch 2 --steps 3

bench/bench_lora_step.cpp runs it as a subprocess and reads the same line.

Output: exactly one JSON line on stdout (logs go to stderr):

  step_seconds_best     the fastest timed step (after --warmup untimed ones);
                        best, not median, because on a shared machine
                        interference only ever slows a step down
  step_seconds_median   the median timed step
  step_seconds          every timed step
  losses                the loss of every step, warm-up steps first
  tokens_per_s          batch * seq_len / step_seconds_best
  peak_rss_bytes        the process's peak resident set (getrusage), loading
                        included
  peak_rss_run_bytes    the peak while training only: the kernel's high-water
                        mark is reset after loading (/proc/self/clear_refs);
                        null where the kernel does not allow that
  trainable_params, threads, torch / transformers / peft versions, settings

Tokens: a JSON file {"ids": [...]} (default bench/gemma3_prompt_ids.json,
the ids graphc's benchmarks use). Row b of the batch is the window of
seq_len + 1 ids starting at b * seq_len of the file's ids repeated end to
end, so row 0 is the file's first seq_len + 1 ids; each row's first seq_len
ids are the input and its last seq_len ids the targets.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Importing the sibling module would otherwise leave a __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, str(HERE))
# The model builder, token file and RSS helpers of the inference baseline; it
# has no import-time side effects, so both baselines share one weight loader.
import pytorch_gemma3 as gemma3  # noqa: E402

TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def log(msg: str) -> None:
    print(f"pytorch_lora_step: {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> None:
    """One error line and exit 1; the C++ runner reports the line as the skip reason."""
    print(f"pytorch_lora_step: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def high_water_rss_bytes() -> int | None:
    """The kernel's RSS high-water mark (VmHWM), the value clear_refs resets.

    Read directly rather than through getrusage: getrusage also folds in the
    peaks of threads that have exited, which a reset does not clear.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024  # reported in kB
    except OSError:
        pass
    return None


def token_rows(path: Path, batch: int, seq_len: int) -> list[list[int]]:
    try:
        ids = [int(i) for i in json.loads(path.read_text(encoding="utf-8"))["ids"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        fail(f"cannot read token ids from {path}: {error}")
    if not ids:
        fail(f"{path} holds no token ids")
    need = batch * seq_len + 1
    stream = ids * (need // len(ids) + 1)
    return [stream[b * seq_len: b * seq_len + seq_len + 1] for b in range(batch)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, default=gemma3.DEFAULT_GGUF, help="GGUF checkpoint (default: %(default)s)")
    ap.add_argument("--ids", type=Path, default=gemma3.DEFAULT_IDS,
                    help="JSON {\"ids\": [...]} (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (default: %(default)s)")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first (default: %(default)s)")
    ap.add_argument("--seq-len", type=int, default=256, help="tokens per row (default: %(default)s)")
    ap.add_argument("--batch", type=int, default=1, help="rows per step (default: %(default)s)")
    ap.add_argument("--rank", type=int, default=16, help="LoRA rank r (default: %(default)s)")
    ap.add_argument("--alpha", type=float, default=32.0, help="LoRA alpha; scale = alpha / r (default: %(default)s)")
    ap.add_argument("--lr", type=float, default=1e-4, help="AdamW learning rate (default: %(default)s)")
    ap.add_argument("--weight-decay", type=float, default=0.0, help="AdamW weight decay (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the adapter's initialisation")
    args = ap.parse_args()

    gguf_path = args.gguf.resolve()
    if not gguf_path.exists():
        fail(f"{gguf_path} not found; run scripts/fetch-weights.sh first")
    for name in ("threads", "steps", "seq_len", "batch", "rank"):
        if getattr(args, name) < 1:
            fail(f"--{name.replace('_', '-')} must be >= 1")
    if args.warmup < 0:
        fail("--warmup must be >= 0")

    import peft
    import torch
    import transformers
    from transformers.loss.loss_utils import ForCausalLMLoss

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rows = token_rows(args.ids, args.batch, args.seq_len)

    load_before = os.getloadavg()[0]
    log(f"loading {gguf_path.name} (dequantized to float32)")
    t = time.perf_counter()
    model, _, n_params = gemma3.load_model(gguf_path)
    # bench_lora_step passes alpha as "32.000000"; an integral alpha is kept an
    # int so that PEFT's config reads as PEFT's own defaults do.
    alpha = int(args.alpha) if float(args.alpha).is_integer() else args.alpha
    config = peft.LoraConfig(r=args.rank, lora_alpha=alpha, lora_dropout=0.0, target_modules=TARGET_MODULES,
                             bias="none", task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, config)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    trainable = sum(p.numel() for p in params)
    frozen_lora = [n for n, p in model.named_parameters() if ("lora_" in n) != p.requires_grad]
    if frozen_lora:
        fail(f"expected exactly the LoRA factors to be trainable; not so for {frozen_lora[:4]}")
    optimizer = torch.optim.AdamW(params, lr=args.lr, weight_decay=args.weight_decay)
    load_s = time.perf_counter() - t
    peak_load = gemma3.peak_rss_bytes()
    gemma3.release_freed_memory()
    rss_reset = gemma3.reset_peak_rss()
    log(f"loaded in {load_s:.1f} s: {n_params} base parameters (frozen), {trainable} trainable; "
        f"{args.threads} threads, batch {args.batch} x {args.seq_len} tokens")

    x = torch.tensor([r[:-1] for r in rows], dtype=torch.long)
    y = torch.tensor([r[1:] for r in rows], dtype=torch.long)
    vocab = model.config.vocab_size
    losses, times = [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        logits = model(input_ids=x, use_cache=False).logits
        # transformers' causal-LM loss (what labels=input_ids runs), given the
        # targets already shifted: the sequence has seq_len + 1 ids, so every
        # one of the seq_len positions has a target, as in graphc's step,
        # instead of the last one being dropped by the in-model shift.
        loss = ForCausalLMLoss(logits, None, vocab, shift_labels=y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        losses.append(float(loss.detach()))
        timed = step >= args.warmup
        if timed:
            times.append(dt)
        log(f"{'step' if timed else 'warm-up step'} {step + 1}: loss {losses[-1]:.4f}, {dt:.3f} s")
        del logits, loss  # so the next step's activations do not coexist with these

    peak_run = high_water_rss_bytes() if rss_reset else None
    best = min(times)
    print(json.dumps({
        "baseline": "pytorch-peft-lora-f32",
        "model": gguf_path.name,
        "step_seconds_best": best,
        "step_seconds_median": statistics.median(times),
        "step_seconds": times,
        "losses": losses,
        "tokens_per_s": args.batch * args.seq_len / best,
        "peak_rss_bytes": max(peak_load, gemma3.peak_rss_bytes()),
        "peak_rss_run_bytes": peak_run,
        "trainable_params": trainable,
        "base_params": n_params,
        "threads": args.threads,
        "batch": args.batch,
        "seq_len": args.seq_len,
        "warmup": args.warmup,
        "timed_steps": args.steps,
        "rank": args.rank,
        "alpha": alpha,
        "lr": args.lr,
        "weight_decay": args.weight_decay,
        "target_modules": TARGET_MODULES,
        "load_seconds": load_s,
        "loadavg_1min": [load_before, os.getloadavg()[0]],  # before loading, after the steps
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "python": platform.python_version(),
        "attn_implementation": model.config._attn_implementation,
    }), flush=True)


if __name__ == "__main__":
    main()
