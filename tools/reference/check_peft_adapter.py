#!/usr/bin/env python3
"""Cross-checks LoRA adapters in PEFT's format against Hugging Face PEFT.

What: loads Gemma-3 270M in transformers (Gemma3ForCausalLM, float32, eager
attention) from the GGUF the way bench/pytorch_gemma3.py does and applies an
adapter directory (adapter_config.json + adapter_model.safetensors) with
peft.PeftModel.from_pretrained, so the file's tensor names, shapes and config
must be exactly what PEFT expects. Three uses:

  logits    --adapter DIR --ids IDS.json [--out LOGITS.json]
            one forward over the ids; writes the logits of every position
            as JSON ({"ids", "vocab_size", "logits": [[...], ...], ...};
            floats with 9 significant digits, which read back to the same
            float32). Default output: stdout.
  compare   --adapter DIR --ids IDS.json --expect LOGITS.json [--tolerance T]
            the same forward, compared with logits computed elsewhere (same
            format; a bare list of rows works too); prints one JSON line with
            the largest absolute difference and where it is, and exits 1 when
            it is above T (default 1e-3, as graphc's golden tests) or the
            shapes or ids differ.
  make      --make-adapter DIR [--seed S]
            writes a PEFT adapter with random factors (lora_B non-zero, so it
            changes the model; fixed seed, so it is the same every time):
            rank 16, alpha 32, no dropout, no bias, on q/k/v/o and
            gate/up/down. It then reloads DIR with PeftModel.from_pretrained;
            with --ids it continues as in "logits" (or "compare") with that
            adapter, which makes a file pair for testing an adapter loader.
  perplexity  --adapter DIR --text FILE [--window N]
            perplexity of the text's first window (<bos> then the text's
            tokens, every token after <bos> predicted once) with and without
            the adapter; graph-run's task evaluate prints the same number for
            the same text with --set model.adapter=DIR and run.window=N.

IDS.json is a JSON list of token ids or an object with an "ids" list (as
bench/gemma3_prompt_ids.json); --count N takes its first N. Run by hand with
the reference virtualenv (tools/reference/README.md), for example:

  .venv-reference/bin/python tools/reference/check_peft_adapter.py \\
      --make-adapter /tmp/adapter --ids bench/gemma3_prompt_ids.json --count 8 --out /tmp/logits.json
  .venv-reference/bin/python tools/reference/check_peft_adapter.py \\
      --adapter /tmp/adapter --ids bench/gemma3_prompt_ids.json --count 8 --expect /tmp/logits.json

Logs go to stderr; exit status 0 on success, 1 on a mismatch or an error.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# Importing the sibling module would otherwise leave a __pycache__ in the source tree.
sys.dont_write_bytecode = True
sys.path.insert(0, str(REPO / "bench"))
# The same model builder as the PyTorch baselines, so the base weights here are
# bit for bit those every other reference number is computed from.
import pytorch_gemma3 as gemma3  # noqa: E402

# The adapter graphc's LoRA training uses (experiments/gemma3-270m-lora.yaml).
RANK = 16
ALPHA = 32
TARGET_MODULES = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
# Standard deviation of the random lora_B entries of --make-adapter. PEFT
# starts lora_B at zero, which would make the adapter invisible in the
# logits. With this the adapter moves logits by up to ~13 on the benchmark
# prompt (GPL-3's preamble: perplexity 14.9 without, 70 with), so a wrong
# scale, a transposed factor or a missed projection cannot hide inside a
# logit tolerance of 1e-3.
MAKE_B_STD = 0.02


def log(msg: str) -> None:
    print(f"check_peft_adapter: {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> None:
    print(f"check_peft_adapter: error: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def read_ids(path: Path, count: int | None) -> list[int]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        ids = doc["ids"] if isinstance(doc, dict) else doc
        ids = [int(i) for i in ids]
    except (OSError, ValueError, KeyError, TypeError) as error:
        fail(f"cannot read token ids from {path}: {error}")
    if count is not None:
        if count > len(ids):
            fail(f"{path} has {len(ids)} ids, --count asks for {count}")
        ids = ids[:count]
    if not ids:
        fail(f"{path} holds no token ids")
    return ids


def forward_logits(model, ids: list[int]):
    """[len(ids), vocab] float32 logits of one forward without a KV cache."""
    import torch

    with torch.no_grad():
        return model(input_ids=torch.tensor([ids]), use_cache=False).logits[0].float()


def window_nll(model, ids: list[int]) -> tuple[float, int]:
    import torch

    logits = forward_logits(model, ids[:-1])
    return float(torch.nn.functional.cross_entropy(logits, torch.tensor(ids[1:]), reduction="sum")), len(ids) - 1


def write_logits(path: Path | None, ids: list[int], logits, adapter: Path, versions: dict) -> None:
    # One row per line; '%.9g' is the shortest fixed width that reads back to
    # the same float32, and far faster than shortest-repr for millions of values.
    head = {
        "description": ("logits of Gemma3ForCausalLM (float32, eager) from the GGUF dequantized to float32, "
                        "with the PEFT adapter applied; logits[p] follows ids[0..p]"),
        "adapter": adapter.name,
        "ids": ids,
        "vocab_size": int(logits.shape[1]),
        **versions,
    }
    parts = [json.dumps(head)[:-1], ', "logits": [\n']
    rows = logits.tolist()
    for p, row in enumerate(rows):
        parts.append("[" + ",".join(format(v, ".9g") for v in row) + ("]\n" if p + 1 == len(rows) else "],\n"))
    parts.append("]}\n")
    text = "".join(parts)
    if path is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        path.write_text(text, encoding="utf-8")
        log(f"wrote the logits of {len(ids)} positions to {path} ({len(text) / 1e6:.1f} MB)")


def compare_logits(expect_path: Path, ids: list[int], logits, tolerance: float) -> bool:
    import torch

    try:
        doc = json.loads(expect_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        fail(f"cannot read {expect_path}: {error}")
    rows = doc["logits"] if isinstance(doc, dict) else doc
    if isinstance(doc, dict) and "ids" in doc and [int(i) for i in doc["ids"]] != ids:
        fail(f"{expect_path} was computed for other token ids")
    try:
        expect = torch.tensor(rows, dtype=torch.float32)
    except (TypeError, ValueError) as error:
        fail(f"{expect_path}: logits are not a rectangular list of numbers: {error}")
    if tuple(expect.shape) != tuple(logits.shape):
        print(json.dumps({"ok": False, "shape_expected": list(expect.shape), "shape_here": list(logits.shape)}))
        return False
    diff = (expect - logits).abs()
    worst = int(diff.argmax())
    pos, tok = divmod(worst, logits.shape[1])
    max_diff = float(diff.max())
    ok = max_diff <= tolerance  # NaN compares false, so NaN anywhere fails
    print(json.dumps({
        "ok": ok,
        "max_abs_diff": max_diff,
        "tolerance": tolerance,
        "worst_position": pos,
        "worst_token": tok,
        "expected": float(expect[pos, tok]),
        "here": float(logits[pos, tok]),
        "positions": int(logits.shape[0]),
        "argmax_agree": int((expect.argmax(-1) == logits.argmax(-1)).sum()),
    }), flush=True)
    return ok


def make_adapter(model, out: Path, seed: int):
    """Wraps model with a random LoRA adapter, saves it to out and returns the base model again."""
    import peft
    import torch

    config = peft.LoraConfig(r=RANK, lora_alpha=ALPHA, lora_dropout=0.0, target_modules=TARGET_MODULES,
                             bias="none", task_type="CAUSAL_LM")
    wrapped = peft.get_peft_model(model, config)
    # Own generator and a fixed visiting order: the factors depend on the seed
    # only, not on PEFT's initialisation code or the global RNG's history.
    gen = torch.Generator().manual_seed(seed)
    n = 0
    with torch.no_grad():
        for name, p in sorted(wrapped.named_parameters()):
            if ".lora_A." in name:  # [r, in]: the scale of a unit-variance projection to r dims
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[1]))
                n += 1
            elif ".lora_B." in name:  # [out, r]
                p.copy_(torch.randn(p.shape, generator=gen) * MAKE_B_STD)
                n += 1
    if n != 2 * len(TARGET_MODULES) * gemma3.CONFIG["num_hidden_layers"]:
        fail(f"expected a lora_A and a lora_B for every projection, found {n} factors")
    out.mkdir(parents=True, exist_ok=True)
    wrapped.save_pretrained(str(out))
    log(f"wrote a random adapter (seed {seed}, {n} factors) to {out}")
    # unload() takes the LoRA layers out again, so the adapter can be applied
    # from the files just written, exactly as a user of them would.
    return wrapped.unload()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog="\n".join(__doc__.splitlines()[2:]))
    ap.add_argument("--gguf", type=Path, default=gemma3.DEFAULT_GGUF, help="GGUF checkpoint (default: %(default)s)")
    ap.add_argument("--adapter", type=Path, help="PEFT adapter directory to apply")
    ap.add_argument("--make-adapter", type=Path, metavar="DIR", help="write a random PEFT adapter to DIR")
    ap.add_argument("--seed", type=int, default=0, help="seed of --make-adapter (default: %(default)s)")
    ap.add_argument("--ids", type=Path, help="JSON list of token ids (or {\"ids\": [...]})")
    ap.add_argument("--count", type=int, help="use only the first N ids")
    ap.add_argument("--out", type=Path, help="write the logits here instead of stdout")
    ap.add_argument("--expect", type=Path, help="compare the logits with this file instead of writing them")
    ap.add_argument("--tolerance", type=float, default=1e-3, help="largest absolute logit difference accepted "
                    "by --expect (default: %(default)s)")
    ap.add_argument("--text", type=Path, help="perplexity of this text's first window instead of logits")
    ap.add_argument("--window", type=int, default=256, help="tokens of --text's window, <bos> included")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch.set_num_threads")
    args = ap.parse_args()

    if (args.adapter is None) == (args.make_adapter is None):
        fail("give exactly one of --adapter DIR and --make-adapter DIR")
    if args.adapter is not None and args.ids is None and args.text is None:
        fail("--adapter needs --ids (logits) or --text (perplexity)")
    if args.ids is not None and args.text is not None:
        fail("--ids and --text are separate checks; give one")
    if (args.out or args.expect or args.count is not None) and args.ids is None:
        fail("--out, --expect and --count go with --ids")
    if args.out and args.expect:
        fail("give --out or --expect, not both")
    if args.text is not None and args.make_adapter is not None:
        fail("--text goes with --adapter")
    gguf_path = args.gguf.resolve()
    if not gguf_path.exists():
        fail(f"{gguf_path} not found; run scripts/fetch-weights.sh first")
    if args.adapter is not None and not (args.adapter / "adapter_config.json").exists():
        fail(f"{args.adapter} has no adapter_config.json")
    ids = read_ids(args.ids, args.count) if args.ids is not None else None

    import peft
    import torch
    import transformers

    torch.set_num_threads(args.threads)
    versions = {"torch": torch.__version__, "transformers": transformers.__version__, "peft": peft.__version__}
    log(f"loading {gguf_path.name} (dequantized to float32)")
    model, _, _ = gemma3.load_model(gguf_path)

    if args.text is not None:
        tok = transformers.AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
        text_ids = [gemma3.BOS] + tok(args.text.read_text(encoding="utf-8"), add_special_tokens=False)["input_ids"]
        text_ids = text_ids[: args.window]
        nll_base, n = window_nll(model, text_ids)
        adapted = peft.PeftModel.from_pretrained(model, str(args.adapter))
        adapted.eval()
        nll_adapted, _ = window_nll(adapted, text_ids)
        print(json.dumps({"tokens": n, "perplexity_base": math.exp(nll_base / n),
                          "perplexity_adapter": math.exp(nll_adapted / n), **versions}))
        return

    adapter_dir = args.adapter
    if args.make_adapter is not None:
        model = make_adapter(model, args.make_adapter, args.seed)
        adapter_dir = args.make_adapter
    base_logits = forward_logits(model, ids) if ids is not None and args.make_adapter is not None else None
    adapted = peft.PeftModel.from_pretrained(model, str(adapter_dir))
    adapted.eval()
    loaded = sum(p.numel() for n, p in adapted.named_parameters() if "lora_" in n)
    log(f"applied {adapter_dir} with PeftModel.from_pretrained: {loaded} adapter parameters")
    if ids is None:
        return
    logits = forward_logits(adapted, ids)
    if base_logits is not None:
        # A made adapter that leaves the logits alone would test nothing.
        log(f"the adapter moves the logits by up to {float((logits - base_logits).abs().max()):.3f}")
    if args.expect is not None:
        sys.exit(0 if compare_logits(args.expect, ids, logits, args.tolerance) else 1)
    write_logits(args.out, ids, logits, adapter_dir, versions)


if __name__ == "__main__":
    main()
