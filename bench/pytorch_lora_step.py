#!/usr/bin/env python3
"""PyTorch + PEFT baseline for one LoRA fine-tuning step of Gemma-3 270M.

The model is the one bench/pytorch_gemma3.py builds (transformers'
Gemma3ForCausalLM, eager attention, float32, CPU, the GGUF dequantized to
float32) with a PEFT LoRA adapter on every attention and MLP projection
(default rank 16, alpha 32, no dropout), the base frozen. One step is what
graphc's @train_step does: the causal-LM loss over [batch, seq_len] tokens
(labels = inputs shifted by one), backward, torch.optim.AdamW over the
adapter, zero_grad.

Output: exactly one JSON line on stdout (logs on stderr):
  step_seconds_best / _median / steps   time of each timed step (after --warmup)
  tokens_per_s                          batch * seq_len / best step time
  losses                                the loss of every step, warm-up included
  peak_rss_bytes                        the process's peak resident set
  peak_rss_run_bytes                    the peak while training only (the
                                        high-water mark reset after loading,
                                        where the kernel allows it)
  trainable_params, versions, threads

Token ids come from a JSON file ({"ids": [...]}); a sequence of seq_len + 1
ids is taken from the front, repeated when the file is shorter.

  .venv-reference/bin/python bench/pytorch_lora_step.py --threads 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import pytorch_gemma3 as base  # noqa: E402  (the same model builder as the inference baseline)

TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


def log(msg: str) -> None:
    print(f"pytorch_lora_step: {msg}", file=sys.stderr, flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, default=base.DEFAULT_GGUF)
    ap.add_argument("--ids", type=Path, default=base.DEFAULT_IDS)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--seq-len", type=int, default=256)
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--rank", type=int, default=16)
    ap.add_argument("--alpha", type=float, default=32)
    ap.add_argument("--lr", type=float, default=2e-4)
    ap.add_argument("--weight-decay", type=float, default=0.0)
    ap.add_argument("--steps", type=int, default=5, help="timed steps")
    ap.add_argument("--warmup", type=int, default=1, help="untimed steps first")
    args = ap.parse_args()

    import peft
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    log(f"loading {args.gguf}")
    model, _, _ = base.load_model(args.gguf)
    config = peft.LoraConfig(r=args.rank, lora_alpha=args.alpha, lora_dropout=0.0, target_modules=TARGETS,
                             bias="none", task_type="CAUSAL_LM")
    model = peft.get_peft_model(model, config)
    model.train()
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=args.lr,
                                  weight_decay=args.weight_decay)

    ids = json.loads(args.ids.read_text(encoding="utf-8"))["ids"]
    need = args.seq_len + 1
    seq = (ids * (need // len(ids) + 1))[:need]
    x = torch.tensor([seq[:-1]] * args.batch, dtype=torch.long)
    y = torch.tensor([seq[1:]] * args.batch, dtype=torch.long)

    base.release_freed_memory()
    reset = base.reset_peak_rss()
    losses, times = [], []
    for step in range(args.warmup + args.steps):
        t0 = time.perf_counter()
        logits = model(input_ids=x).logits
        # The mean next-token loss over every position, as graphc computes it
        # (transformers' labels= path shifts inside; giving targets directly
        # keeps both sides on the same seq_len positions).
        loss = torch.nn.functional.cross_entropy(logits.view(-1, logits.size(-1)).float(), y.view(-1))
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        dt = time.perf_counter() - t0
        losses.append(float(loss))
        if step >= args.warmup:
            times.append(dt)
        log(f"step {step + 1}: loss {float(loss):.4f}, {dt:.2f} s")
    best = min(times)
    print(json.dumps({
        "step_seconds_best": best,
        "step_seconds_median": statistics.median(times),
        "steps": times,
        "tokens_per_s": args.batch * args.seq_len / best,
        "losses": losses,
        "peak_rss_bytes": base.peak_rss_bytes(),
        "peak_rss_run_bytes": base.peak_rss_bytes() if reset else None,
        "trainable_params": trainable,
        "threads": args.threads,
        "seq_len": args.seq_len,
        "batch": args.batch,
        "rank": args.rank,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
    }))


if __name__ == "__main__":
    main()
