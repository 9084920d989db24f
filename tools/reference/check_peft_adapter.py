#!/usr/bin/env python3
"""Cross-checks a LoRA adapter graphc wrote against Hugging Face PEFT.

Loads Gemma-3 270M in transformers (float32, eager) from the GGUF the way
bench/pytorch_gemma3.py does, applies the adapter directory with
peft.PeftModel.from_pretrained (so the file's names, shapes and config must be
what PEFT expects), and prints the perplexity of a text's first window, the
number `graph-run` prints for the same text with `--set model.adapter=DIR`
(task evaluate, run.window equal to --window): <bos> then the text's tokens,
every token after <bos> predicted once.

  .venv-reference/bin/python tools/reference/check_peft_adapter.py \
      --adapter runs/gemma3-270m-lora/adapter --text /usr/share/common-licenses/Apache-2.0 --window 256

Prints one JSON line: perplexity with and without the adapter, tokens.
Run by hand (it needs torch, transformers, gguf and peft: tools/reference/requirements.txt).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "bench"))
import pytorch_gemma3 as base  # noqa: E402


def window_nll(model, ids):
    import torch

    x = torch.tensor([ids[:-1]])
    y = torch.tensor(ids[1:])
    with torch.no_grad():
        logits = model(input_ids=x).logits[0].float()
    return float(torch.nn.functional.cross_entropy(logits, y, reduction="sum")), len(ids) - 1


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, default=base.DEFAULT_GGUF)
    ap.add_argument("--adapter", type=Path, required=True)
    ap.add_argument("--text", type=Path, required=True)
    ap.add_argument("--window", type=int, default=256)
    args = ap.parse_args()

    import peft
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(args.gguf.parent), gguf_file=args.gguf.name)
    text = args.text.read_text(encoding="utf-8")
    ids = [base.BOS] + tok(text, add_special_tokens=False)["input_ids"]
    ids = ids[: args.window]
    model, _, _ = base.load_model(args.gguf)
    nll_base, n = window_nll(model, ids)
    adapted = peft.PeftModel.from_pretrained(model, str(args.adapter))
    adapted.eval()
    nll_adapted, _ = window_nll(adapted, ids)
    print(json.dumps({"tokens": n, "perplexity_base": math.exp(nll_base / n),
                      "perplexity_adapter": math.exp(nll_adapted / n), "peft": peft.__version__}))


if __name__ == "__main__":
    main()
