#!/usr/bin/env python3
"""Make golden data for Gemma-3 270M from an independent implementation.

The oracle is Hugging Face transformers' own Gemma3ForCausalLM (eager attention,
float32) with the weights of models/gemma-3-270m-Q4_K_M.gguf, dequantized to
float32. Nothing here uses graphc code. The output,
tests/fixtures/gemma3-270m/golden.json, holds for a handful of short prompts:

  * the token ids (with BOS),
  * the top-20 logits and the logsumexp at every prompt position,
  * a 32-token greedy continuation with, at every step, the top-1/top-2
    margin, so a test can tell where greedy decoding is fragile.

Run by hand (not in CI); see tools/reference/README.md. On first use the
script creates <repo>/.venv-reference, installs tools/reference/requirements.txt
into it from PyPI and re-runs itself there.

How the pieces are built
  weights    gguf's dequantize() of every tensor, GGUF names mapped to HF
             names, 1.0 subtracted from every *norm.weight (the GGUF
             converter stores 1 + w; HF stores w and computes 1 + w).
             Cross-checked against transformers' own GGUF loader.
  config     Gemma3TextConfig written out in full here (not read from the
             file), then compared with what the GGUF metadata says.
  tokenizer  transformers' tokenizer built from the GGUF vocabulary
             (AutoTokenizer.from_pretrained(..., gguf_file=...)).
             Cross-checked against a SentencePiece BPE model rebuilt from
             the GGUF pieces and scores.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-reference"
REQUIREMENTS = Path(__file__).resolve().parent / "requirements.txt"
DEFAULT_GGUF = REPO / "models" / "gemma-3-270m-Q4_K_M.gguf"
DEFAULT_OUT = REPO / "tests" / "fixtures" / "gemma3-270m" / "golden.json"
SHA_FILE = REPO / "scripts" / "gemma3-270m.sha256"

TOP_K = 20
GEN_TOKENS = 32
MAX_PROMPT_TOKENS = 16

BOS, EOS, PAD = 2, 1, 0

# Prompts. "text" is tokenized with add_bos=True. A "raw" prompt already
# contains its own <bos> (the chat template emits it) and is tokenized
# without adding another one.
PROMPTS = [
    {"name": "prose_capital", "kind": "english prose", "text": "The capital of France is"},
    {"name": "prose_story", "kind": "english prose", "text": "Once upon a time, there was a little"},
    {"name": "code_python", "kind": "code", "text": "def add(a, b):\n    return"},
    {"name": "numbers_decimal", "kind": "numbers", "text": "3.14159 and 2718"},
    {"name": "numbers_grouped", "kind": "numbers", "text": "1,000,000 and 2718"},
    {"name": "japanese", "kind": "non-latin (Japanese)", "text": "日本の首都は"},
    {"name": "russian", "kind": "non-latin (Russian)", "text": "Столица России —"},
    {"name": "arabic", "kind": "non-latin (Arabic)", "text": "عاصمة فرنسا هي"},
    {"name": "leading_spaces", "kind": "leading spaces", "text": "   indented"},
    {"name": "empty", "kind": "empty string (BOS only)", "text": ""},
    {
        "name": "chat_template",
        "kind": "chat template (Gemma-3 turn format, generation prompt)",
        "raw": "<bos><start_of_turn>user\nWhat is 2+2?<end_of_turn>\n<start_of_turn>model\n",
    },
]

# Gemma-3 270M, written out rather than read from the GGUF.
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

# GGUF tensor name -> HF Gemma3ForCausalLM parameter name ("{i}" = layer).
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
    "ffn_norm": "pre_feedforward_layernorm",  # ffn_norm is the *pre*-FFN norm
    "ffn_gate": "mlp.gate_proj",
    "ffn_up": "mlp.up_proj",
    "ffn_down": "mlp.down_proj",
    "post_ffw_norm": "post_feedforward_layernorm",
}


def log(msg: str) -> None:
    print(f"make_golden: {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# virtualenv bootstrap (runs under any python3 >= 3.10)
# --------------------------------------------------------------------------


def in_reference_venv() -> bool:
    try:
        return Path(sys.prefix).resolve() == VENV.resolve()
    except OSError:
        return False


def bootstrap(args: argparse.Namespace) -> None:
    """Create the virtualenv if needed, install the pinned packages, re-exec."""
    py = VENV / "bin" / "python"
    if not py.exists():
        log(f"creating virtualenv {VENV}")
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])
        subprocess.check_call([str(py), "-m", "pip", "install", "--quiet", "--upgrade", "pip"])
    if not args.no_install:
        log(f"installing {REQUIREMENTS.name} into {VENV} (torch pulls large CUDA wheels the first time)")
        subprocess.check_call(
            [str(py), "-m", "pip", "install", "--quiet", "--progress-bar", "off", "-r", str(REQUIREMENTS)],
            env=dict(os.environ, PIP_DISABLE_PIP_VERSION_CHECK="1"),
        )
    os.execv(str(py), [str(py), str(Path(__file__).resolve()), *sys.argv[1:]])


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def recorded_sha() -> str | None:
    if not SHA_FILE.exists():
        return None
    for line in SHA_FILE.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            return line.split()[0]
    return None


def f32(x) -> float:
    """A float32 value as the shortest decimal that reads back to the same float32."""
    import numpy as np

    v = np.float32(x)
    for digits in range(6, 10):
        s = f"{v:.{digits}g}"
        if np.float32(s) == v:
            return float(s)
    return float(v)


def dump_json(obj, indent: int = 0) -> str:
    """JSON with lists of scalars kept on one line (readable, diff-friendly, small)."""
    pad = "  " * indent
    inner = "  " * (indent + 1)
    if isinstance(obj, dict):
        if not obj:
            return "{}"
        items = [f"{inner}{json.dumps(k, ensure_ascii=False)}: {dump_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(obj, list):
        if all(not isinstance(x, (dict, list)) for x in obj):
            return "[" + ", ".join(json.dumps(x, ensure_ascii=False) for x in obj) + "]"
        items = [inner + dump_json(x, indent + 1) for x in obj]
        return "[\n" + ",\n".join(items) + "\n" + pad + "]"
    return json.dumps(obj, ensure_ascii=False)


# --------------------------------------------------------------------------
# weights
# --------------------------------------------------------------------------


def gguf_metadata(reader) -> dict:
    out = {}
    for key, field in reader.fields.items():
        if key.startswith("tokenizer.ggml.") and key.split(".")[-1] in ("tokens", "scores", "token_type", "merges"):
            continue
        try:
            out[key] = field.contents()
        except Exception:  # noqa: BLE001 - informational only
            pass
    return out


def check_metadata(meta: dict) -> list[str]:
    """Differences between the GGUF metadata and the hand-written CONFIG."""
    expect = {
        "general.architecture": "gemma3",
        "gemma3.embedding_length": CONFIG["hidden_size"],
        "gemma3.feed_forward_length": CONFIG["intermediate_size"],
        "gemma3.block_count": CONFIG["num_hidden_layers"],
        "gemma3.attention.head_count": CONFIG["num_attention_heads"],
        "gemma3.attention.head_count_kv": CONFIG["num_key_value_heads"],
        "gemma3.attention.key_length": CONFIG["head_dim"],
        "gemma3.attention.value_length": CONFIG["head_dim"],
        "gemma3.attention.sliding_window": CONFIG["sliding_window"],
        "gemma3.context_length": CONFIG["max_position_embeddings"],
        "gemma3.rope.freq_base": CONFIG["rope_parameters"]["full_attention"]["rope_theta"],
        "gemma3.attention.layer_norm_rms_epsilon": CONFIG["rms_norm_eps"],
        "tokenizer.ggml.bos_token_id": BOS,
        "tokenizer.ggml.eos_token_id": EOS,
        "tokenizer.ggml.add_bos_token": True,
        "tokenizer.ggml.add_space_prefix": False,
    }
    problems = []
    for key, want in expect.items():
        got = meta.get(key)
        if isinstance(want, float):
            ok = got is not None and abs(float(got) - want) <= 1e-6 * max(1.0, abs(want))
        else:
            ok = got == want
        if not ok:
            problems.append(f"{key}: GGUF has {got!r}, config has {want!r}")
    for key in ("gemma3.rope.scaling.type", "gemma3.final_logit_softcapping", "gemma3.attn_logit_softcapping"):
        if key in meta:
            problems.append(f"{key} present in GGUF ({meta[key]!r}); the 270M config has none")
    return problems


def load_state_dict_from_gguf(reader):
    """float32 HF state dict from the GGUF tensors (dequantized with the gguf package)."""
    import numpy as np
    import torch
    from gguf import GGMLQuantizationType
    from gguf.quants import dequantize

    sd = {}
    types = {}
    norm_roundtrip_inexact = 0
    for t in reader.tensors:
        name = t.name
        if name in GLOBAL_NAMES:
            hf = GLOBAL_NAMES[name]
        else:
            parts = name.split(".")
            if len(parts) != 4 or parts[0] != "blk" or parts[3] != "weight" or parts[2] not in LAYER_NAMES:
                raise SystemExit(f"unexpected GGUF tensor {name}")
            hf = f"model.layers.{int(parts[1])}.{LAYER_NAMES[parts[2]]}.weight"
        qtype = GGMLQuantizationType(int(t.tensor_type))
        arr = np.asarray(dequantize(np.asarray(t.data), qtype), dtype=np.float32)
        shape = tuple(int(n) for n in reversed(t.shape.tolist()))  # GGUF ne is [in, out]
        arr = arr.reshape(shape)
        if name.endswith("norm.weight"):
            stored = arr.copy()
            arr = arr - np.float32(1.0)  # GGUF stores 1 + w; HF stores w
            norm_roundtrip_inexact += int(np.count_nonzero((np.float32(1.0) + arr) != stored))
        types[qtype.name] = types.get(qtype.name, 0) + 1
        sd[hf] = torch.from_numpy(np.ascontiguousarray(arr))
    return sd, types, norm_roundtrip_inexact


def crosscheck_dequantizer(reader, sd) -> dict:
    """Dequantize again with transformers' own torch dequantizer, for the types it has.

    transformers' GGUF loader itself falls back to the gguf package for this file (its torch
    dequantizer has no Q5_0), so this is the part of the weight check that is independent of
    the gguf package. Q5_0 tensors are only covered by the gguf package.
    """
    import numpy as np
    import torch

    try:
        from transformers.integrations.gguf.dequant import GGML_BLOCK, dequantize as hf_dequantize
    except ImportError as error:  # internal module; may move between versions
        return {"unavailable": str(error)}
    checked, skipped, max_diff = {}, {}, 0.0
    hf_names = {}
    for t in reader.tensors:
        if t.name in GLOBAL_NAMES:
            hf_names[t.name] = GLOBAL_NAMES[t.name]
        else:
            _, layer, kind, _ = t.name.split(".")
            hf_names[t.name] = f"model.layers.{layer}.{LAYER_NAMES[kind]}.weight"
    for t in reader.tensors:
        qtype = int(t.tensor_type)
        name = t.tensor_type.name
        if qtype not in GGML_BLOCK:
            skipped[name] = skipped.get(name, 0) + 1
            continue
        raw = torch.from_numpy(np.array(t.data, copy=True).reshape(-1).view(np.uint8))
        values = hf_dequantize(raw, qtype, torch.float32).reshape(sd[hf_names[t.name]].shape)
        max_diff = max(max_diff, float((values - sd[hf_names[t.name]]).abs().max()))
        checked[name] = checked.get(name, 0) + 1
    return {"checked": checked, "not_covered": skipped, "max_abs_diff": max_diff}


def build_model(sd):
    import torch
    from transformers import Gemma3ForCausalLM, Gemma3TextConfig

    config = Gemma3TextConfig(**CONFIG, attn_implementation="eager")
    with torch.no_grad():
        model = Gemma3ForCausalLM(config).to(torch.float32)
        missing, unexpected = model.load_state_dict(sd, strict=False)
    if unexpected:
        raise SystemExit(f"unexpected parameters: {unexpected}")
    if set(missing) - {"lm_head.weight"}:
        raise SystemExit(f"missing parameters: {missing}")
    if model.lm_head.weight.data_ptr() != model.model.embed_tokens.weight.data_ptr():
        raise SystemExit("lm_head is not tied to embed_tokens")
    for name, p in model.state_dict().items():
        if name in sd and not torch.equal(p, sd[name]):
            raise SystemExit(f"{name} did not load as given")
    model.eval()
    if model.config._attn_implementation != "eager":
        raise SystemExit(f"attention implementation is {model.config._attn_implementation}, not eager")
    return model


def crosscheck_transformers_loader(gguf_path: Path, sd) -> dict:
    """Load the same file with transformers' own GGUF loader; compare weights and config."""
    import torch
    from transformers import Gemma3ForCausalLM

    log("cross-check: loading the GGUF with transformers' own loader")
    other = Gemma3ForCausalLM.from_pretrained(
        str(gguf_path.parent), gguf_file=gguf_path.name, dtype=torch.float32, attn_implementation="eager"
    )
    other_sd = other.state_dict()
    max_diff = 0.0
    worst = None
    not_equal = 0
    for name, t in sd.items():
        o = other_sd[name].to(torch.float32)
        if o.shape != t.shape:
            raise SystemExit(f"cross-check: {name} has shape {tuple(o.shape)} there, {tuple(t.shape)} here")
        d = float((o - t).abs().max())
        if d > 0:
            not_equal += 1
        if d > max_diff:
            max_diff, worst = d, name
    cfg = other.config
    config_diffs = []
    for key in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
                "num_key_value_heads", "head_dim", "query_pre_attn_scalar", "sliding_window", "layer_types",
                "rope_parameters", "tie_word_embeddings", "hidden_activation", "final_logit_softcapping"):
        mine, theirs = CONFIG[key], getattr(cfg, key, None)
        if key == "rope_parameters":
            theirs = {k: {kk: theirs[k][kk] for kk in ("rope_type", "rope_theta")} for k in theirs}
        if mine != theirs:
            config_diffs.append(f"{key}: ours {mine!r}, transformers' GGUF loader {theirs!r}")
    del other, other_sd
    return {
        "note": "transformers' loader dequantizes this file with the gguf package too; it checks the name "
                "mapping, the norm offsets and the config, not the dequantization",
        "tensors_compared": len(sd),
        "tensors_not_bitwise_equal": not_equal,
        "max_abs_weight_diff": max_diff,
        "worst_tensor": worst,
        "config_differences": config_diffs,
    }


# --------------------------------------------------------------------------
# tokenizer
# --------------------------------------------------------------------------


def build_tokenizer(gguf_path: Path):
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(gguf_path.parent), gguf_file=gguf_path.name)
    if tok.bos_token_id != BOS or tok.eos_token_id != EOS:
        raise SystemExit(f"tokenizer special ids: bos {tok.bos_token_id}, eos {tok.eos_token_id}")
    return tok


def sentencepiece_from_gguf(reader):
    """A SentencePiece BPE model rebuilt from the GGUF pieces and scores (cross-check only).

    Repairs (see docs of the GGUF vocabulary): the GGUF spells whitespace-only pieces with real
    spaces, SentencePiece needs U+2581; <unk> (id 3) is stored as CONTROL but SentencePiece needs
    one UNKNOWN; other CONTROL pieces (<start_of_turn>, <end_of_turn>, <mask>, <unusedN>, ...)
    become USER_DEFINED so that, as in the HF tokenizer, they are matched whole in text.
    """
    import sentencepiece as spm
    from sentencepiece import sentencepiece_model_pb2 as pb

    tokens = reader.fields["tokenizer.ggml.tokens"].contents()
    scores = reader.fields["tokenizer.ggml.scores"].contents()
    types = reader.fields["tokenizer.ggml.token_type"].contents()
    m = pb.ModelProto()
    for i, (piece, score, typ) in enumerate(zip(tokens, scores, types)):
        p = m.pieces.add()
        if " " in piece and not piece.strip(" "):
            piece = "\u2581" * len(piece)
        p.piece = piece
        p.score = score
        if i == 3:
            typ = pb.ModelProto.SentencePiece.UNKNOWN
        elif typ == pb.ModelProto.SentencePiece.CONTROL and i > 3:
            typ = pb.ModelProto.SentencePiece.USER_DEFINED
        p.type = typ
    ts = m.trainer_spec
    ts.model_type = pb.TrainerSpec.BPE
    ts.vocab_size = len(tokens)
    ts.split_by_unicode_script = True
    ts.split_by_whitespace = True
    ts.split_by_number = True
    ts.treat_whitespace_as_suffix = False
    ts.split_digits = True
    ts.allow_whitespace_only_pieces = True
    ts.byte_fallback = True
    ts.unk_id, ts.bos_id, ts.eos_id, ts.pad_id = 3, BOS, EOS, PAD
    ts.unk_piece, ts.bos_piece, ts.eos_piece, ts.pad_piece = "<unk>", "<bos>", "<eos>", "<pad>"
    ns = m.normalizer_spec
    ns.name = "identity"
    ns.add_dummy_prefix = False
    ns.remove_extra_whitespaces = False
    ns.escape_whitespaces = True
    return spm.SentencePieceProcessor(model_proto=m.SerializeToString())


# Extra strings for the tokenizer cross-check (not golden prompts).
TOKENIZER_CHECK_STRINGS = [
    "3.14159 and 2718 and 1,000,000",
    "a  b   c\n\n\tx",
    "trail  ",
    "\n\n\n  \n",
    "emoji 🤖 ok",
    "x\u00a0y café naïve",
    "ﬁ ligature Ｆｕｌｌ width",
    'HTML <div class="x"></div>',
    "Привет, как дела?",
    "مرحبا بالعالم",
    "日本語のテキストです。",
    "def f(x):\n\treturn x ** 2  # square\n",
    "<start_of_turn>user\nHi<end_of_turn>\n",
]


def encode(tok, prompt) -> list[int]:
    if "raw" in prompt:
        ids = tok(prompt["raw"], add_special_tokens=False)["input_ids"]
    else:
        ids = tok(prompt["text"])["input_ids"]
    if not ids or ids[0] != BOS or BOS in ids[1:]:
        raise SystemExit(f"prompt {prompt['name']}: expected exactly one leading BOS, got {ids}")
    return ids


def sp_encode(sp, prompt) -> list[int]:
    if "raw" in prompt:
        text = prompt["raw"]
        assert text.startswith("<bos>")
        return [BOS] + sp.encode(text[len("<bos>"):])
    return [BOS] + sp.encode(prompt["text"])


# --------------------------------------------------------------------------
# golden data
# --------------------------------------------------------------------------


def run_prompt(model, tok, ids: list[int]) -> dict:
    import torch

    x = torch.tensor([ids], dtype=torch.long)
    with torch.no_grad():
        logits = model(input_ids=x, use_cache=False).logits[0].to(torch.float32)  # [T, V]
    lse = torch.logsumexp(logits, dim=-1)
    top = torch.topk(logits, TOP_K, dim=-1)  # sorted, largest first
    positions = []
    for p in range(len(ids)):
        positions.append({
            "top_ids": [int(i) for i in top.indices[p]],
            "top_logits": [f32(v) for v in top.values[p]],
        })

    # Greedy continuation: every step re-runs the whole sequence without a KV
    # cache, so the oracle does not depend on any caching logic.
    seq = list(ids)
    gen_ids, top1, top2_ids, margins, gen_lse = [], [], [], [], []
    with torch.no_grad():
        for _ in range(GEN_TOKENS):
            out = model(input_ids=torch.tensor([seq]), use_cache=False, logits_to_keep=1)
            last = out.logits[0, -1].to(torch.float32)
            v, i = torch.topk(last, 2)
            nxt = int(i[0])
            if float(last[nxt]) != float(last.max()):
                raise SystemExit("topk disagrees with max")
            gen_ids.append(nxt)
            top1.append(f32(v[0]))
            top2_ids.append(int(i[1]))
            margins.append(f32(v[0] - v[1]))
            gen_lse.append(f32(torch.logsumexp(last, dim=-1)))
            seq.append(nxt)

    # The same continuation through transformers' generate() (with its KV cache).
    with torch.no_grad():
        gen = model.generate(
            torch.tensor([ids]), attention_mask=torch.ones(1, len(ids), dtype=torch.long),
            max_new_tokens=GEN_TOKENS, min_new_tokens=GEN_TOKENS, do_sample=False,
            eos_token_id=None, pad_token_id=PAD,
        )[0, len(ids):].tolist()

    return {
        "positions": positions,
        "logsumexp": [f32(v) for v in lse],
        "greedy": {
            "ids": gen_ids,
            "text": tok.decode(gen_ids),
            "top1_logit": top1,
            "top2_id": top2_ids,
            "margin": margins,
            "logsumexp": gen_lse,
        },
        "_generate_ids": gen,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, default=DEFAULT_GGUF, help="GGUF file (default: %(default)s)")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output JSON (default: %(default)s)")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1, help="torch CPU threads")
    ap.add_argument("--no-install", action="store_true", help="do not pip-install requirements.txt first")
    ap.add_argument("--no-venv", action="store_true", help="run in the current interpreter as is")
    ap.add_argument("--skip-loader-crosscheck", action="store_true",
                    help="skip loading the GGUF a second time with transformers' own loader")
    args = ap.parse_args()

    if not args.no_venv and not in_reference_venv():
        bootstrap(args)
        return

    gguf_path = args.gguf.resolve()
    if not gguf_path.exists():
        raise SystemExit(f"{gguf_path} not found; run scripts/fetch-weights.sh first")

    import numpy as np
    import torch
    import transformers
    import gguf
    import sentencepiece
    import tokenizers

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    log(f"hashing {gguf_path.name}")
    sha = sha256_of(gguf_path)
    want = recorded_sha()
    if want is not None and sha != want:
        raise SystemExit(f"sha256 {sha} differs from the recorded {want} ({SHA_FILE.relative_to(REPO)})")

    reader = gguf.GGUFReader(str(gguf_path))
    meta = gguf_metadata(reader)
    problems = check_metadata(meta)
    if problems:
        raise SystemExit("GGUF metadata does not match the 270M config:\n  " + "\n  ".join(problems))

    log("dequantizing weights with the gguf package")
    sd, tensor_types, norm_inexact = load_state_dict_from_gguf(reader)
    if len(sd) != 13 * CONFIG["num_hidden_layers"] + 2:
        raise SystemExit(f"expected {13 * CONFIG['num_hidden_layers'] + 2} tensors, got {len(sd)}")
    model = build_model(sd)

    dequant_check = crosscheck_dequantizer(reader, sd)
    log(f"cross-check (dequantizer): {dequant_check}")
    if dequant_check.get("max_abs_diff", 0.0) != 0.0:
        raise SystemExit("transformers' dequantizer disagrees with the gguf package")

    loader_check = None
    if not args.skip_loader_crosscheck:
        loader_check = crosscheck_transformers_loader(gguf_path, sd)
        log(f"cross-check (weights): {loader_check}")
        if loader_check["max_abs_weight_diff"] > 1e-6 or loader_check["config_differences"]:
            raise SystemExit("transformers' own GGUF loader disagrees with ours; see above")

    log("building the tokenizer from the GGUF vocabulary")
    tok = build_tokenizer(gguf_path)
    sp = sentencepiece_from_gguf(reader)
    tok_mismatch = []
    n_checked = 0
    for prompt in PROMPTS + [{"name": f"check{i}", "text": s} for i, s in enumerate(TOKENIZER_CHECK_STRINGS)]:
        a, b = encode(tok, prompt), sp_encode(sp, prompt)
        n_checked += 1
        if a != b:
            tok_mismatch.append({"name": prompt["name"], "transformers": a, "sentencepiece": b})
    if tok_mismatch:
        raise SystemExit(f"tokenizers disagree: {tok_mismatch}")

    results = []
    for prompt in PROMPTS:
        ids = encode(tok, prompt)
        if len(ids) > MAX_PROMPT_TOKENS:
            raise SystemExit(f"prompt {prompt['name']} has {len(ids)} tokens (> {MAX_PROMPT_TOKENS})")
        log(f"prompt {prompt['name']}: {len(ids)} tokens")
        r = run_prompt(model, tok, ids)
        gen_cached = r.pop("_generate_ids")
        entry = {
            "name": prompt["name"],
            "kind": prompt["kind"],
            "text": prompt.get("text", prompt.get("raw")),
            "add_bos": "raw" not in prompt,
            "ids": ids,
            "pieces": tok.convert_ids_to_tokens(ids),
            **r,
        }
        entry["greedy"]["matches_generate_with_kv_cache"] = gen_cached == r["greedy"]["ids"]
        if gen_cached != r["greedy"]["ids"]:
            entry["greedy"]["generate_with_kv_cache_ids"] = gen_cached
            log(f"  note: generate() with KV cache differs from the no-cache loop: {gen_cached}")
        log(f"  -> {entry['greedy']['text']!r} (min margin {min(entry['greedy']['margin']):.4f})")
        results.append(entry)

    golden = {
        "description": (
            "Golden outputs of Hugging Face transformers' Gemma3ForCausalLM (eager attention, float32) "
            "for the Gemma-3 270M Q4_K_M GGUF, dequantized to float32. Made by tools/reference/make_golden.py."
        ),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
            "gguf": _dist_version("gguf"),
            "numpy": np.__version__,
            "tokenizers": tokenizers.__version__,
            "sentencepiece": sentencepiece.__version__,
        },
        "model": {
            "file": "models/" + gguf_path.name if gguf_path.parent == REPO / "models" else gguf_path.name,
            "sha256": sha,
            "general.name": meta.get("general.name"),
            "general.file_type": meta.get("general.file_type"),
            "tensor_types": tensor_types,
        },
        "dtype": "float32",
        "attn_implementation": "eager",
        "config": CONFIG,
        "embed_scale": f32(np.sqrt(np.float32(CONFIG["hidden_size"]))),
        "weights": {
            "method": (
                "every GGUF tensor dequantized to float32 with gguf.quants.dequantize, GGUF names mapped to "
                "Gemma3ForCausalLM names, 1.0 subtracted from every *norm.weight (GGUF stores 1+w); "
                "lm_head tied to embed_tokens"
            ),
            "norm_values_not_roundtripping_exactly": norm_inexact,
            "crosscheck_transformers_gguf_loader": loader_check,
            "crosscheck_transformers_torch_dequantizer": dequant_check,
        },
        "tokenizer": {
            "method": (
                "transformers AutoTokenizer.from_pretrained(models_dir, gguf_file=...) (GemmaTokenizer built "
                "from the GGUF vocabulary), add_bos=True; the chat-template prompt already contains <bos> and "
                "is tokenized without adding another"
            ),
            "crosscheck": (
                f"identical ids from a SentencePiece BPE model rebuilt from the GGUF pieces/scores on "
                f"{n_checked} strings (the prompts plus {len(TOKENIZER_CHECK_STRINGS)} extra)"
            ),
        },
        "format": {
            "ids": "prompt token ids, BOS first",
            "positions[p]": (
                f"logits after consuming ids[0..p]: top-{TOP_K} ids and logits, sorted by logit descending"
            ),
            "logsumexp[p]": "logsumexp over all vocab logits at position p (log p(id) = logit - logsumexp)",
            "greedy": (
                f"{GEN_TOKENS} greedy tokens (argmax; no stop on EOS). At step s: ids[s], its logit top1_logit[s], "
                "the runner-up top2_id[s], margin[s] = top1 - top2 logit, and logsumexp[s]. Computed by re-running "
                "the whole sequence without a KV cache at every step"
            ),
            "floats": "float32 values printed with the fewest digits that read back to the same float32",
        },
        "prompts": results,
    }

    text = dump_json(golden) + "\n"
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    log(f"wrote {args.out} ({len(text.encode('utf-8'))} bytes)")


def _dist_version(name: str) -> str:
    from importlib.metadata import version

    return version(name)


if __name__ == "__main__":
    main()
