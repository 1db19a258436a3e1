"""Trains wafermesh's default model: a tiny Llama (RMSNorm, RoPE, grouped-query attention, SwiGLU)
on the project's own generated children's stories, with its own byte-fallback BPE tokenizer, and
writes both in the llama2.c formats wafermesh reads.

    npm run train            # = python3 tools/train/train.py --out public/models

Needs Debian's python3-torch (apt-get install -y python3-torch). Deterministic for a given seed on
one machine; the same seed elsewhere gives a model of similar loss (floating-point order differs).
"""
import argparse
import hashlib
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
import corpus  # noqa: E402

from tokenizer import BOS, Encoder, train_tokenizer, write_tokenizer  # noqa: E402


# ----------------------------------------------------------------------------------------------
# The model, exactly as wafermesh's reference decodes it.

class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return self.weight * (x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5))


def rope(x, cos, sin):
    # x (B, T, H, hs): interleaved pairs (x[2i], x[2i+1]) rotated by pos * 10000^(-2i/hs)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    return torch.stack((x0 * cos - x1 * sin, x0 * sin + x1 * cos), dim=-1).flatten(-2)


class Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        hs = c["dim"] // c["heads"]
        self.wq = nn.Linear(c["dim"], c["dim"], bias=False)
        self.wk = nn.Linear(c["dim"], c["kv_heads"] * hs, bias=False)
        self.wv = nn.Linear(c["dim"], c["kv_heads"] * hs, bias=False)
        self.wo = nn.Linear(c["dim"], c["dim"], bias=False)
        self.w1 = nn.Linear(c["dim"], c["hidden"], bias=False)
        self.w2 = nn.Linear(c["hidden"], c["dim"], bias=False)
        self.w3 = nn.Linear(c["dim"], c["hidden"], bias=False)
        self.att_norm = RMSNorm(c["dim"])
        self.ffn_norm = RMSNorm(c["dim"])

    def forward(self, x, cos, sin):
        B, T, _ = x.shape
        H, KV = self.c["heads"], self.c["kv_heads"]
        hs = self.c["dim"] // H
        h = self.att_norm(x)
        q = rope(self.wq(h).view(B, T, H, hs), cos, sin)
        k = rope(self.wk(h).view(B, T, KV, hs), cos, sin)
        v = self.wv(h).view(B, T, KV, hs)
        k = k.repeat_interleave(H // KV, dim=2)
        v = v.repeat_interleave(H // KV, dim=2)
        q, k, v = (t.transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(hs)
        mask = torch.ones(T, T, dtype=torch.bool).triu(1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, -1)
        x = x + self.wo(y)
        h = self.ffn_norm(x)
        return x + self.w2(F.silu(self.w1(h)) * self.w3(h))


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.emb = nn.Embedding(c["vocab"], c["dim"])
        self.layers = nn.ModuleList(Block(c) for _ in range(c["layers"]))
        self.norm = RMSNorm(c["dim"])
        hs = c["dim"] // c["heads"]
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
        ang = torch.outer(torch.arange(c["seq"]).float(), freqs)  # (seq, hs/2)
        self.register_buffer("cos", ang.cos()[None, :, None, :], persistent=False)
        self.register_buffer("sin", ang.sin()[None, :, None, :], persistent=False)
        for n, p in self.named_parameters():
            if p.dim() == 2:
                std = 0.02 / math.sqrt(2 * c["layers"]) if n.endswith(("wo.weight", "w2.weight")) else 0.02
                nn.init.normal_(p, 0.0, std)

    def forward(self, idx):
        T = idx.shape[1]
        x = self.emb(idx)
        for layer in self.layers:
            x = layer(x, self.cos[:, :T], self.sin[:, :T])
        return self.norm(x) @ self.emb.weight.t()  # shared classifier


def export(model, path):
    c = model.c
    hs = c["dim"] // c["heads"]
    with open(path, "wb") as f:
        f.write(struct.pack("<7i", c["dim"], c["hidden"], c["layers"], c["heads"], c["kv_heads"], c["vocab"], c["seq"]))

        def put(t):
            f.write(t.detach().to(torch.float32).contiguous().numpy().tobytes())

        L = model.layers
        put(model.emb.weight)
        for name in ["att_norm", "wq", "wk", "wv", "wo", "ffn_norm", "w1", "w2", "w3"]:
            for layer in L:
                put(getattr(layer, name).weight)
        put(model.norm.weight)
        freqs = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
        ang = torch.outer(torch.arange(c["seq"]).float(), freqs)
        put(ang.cos())
        put(ang.sin())


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="public/models")
    ap.add_argument("--name", default="wm-stories")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--stories", type=int, default=12000)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    t_start = time.time()
    torch.manual_seed(a.seed)
    torch.set_num_threads(a.threads)
    c = dict(dim=128, hidden=192, layers=3, heads=4, kv_heads=2, vocab=512, seq=256)

    import random
    r = random.Random(a.seed)
    stories = [corpus.story(r) for _ in range(a.stories)]
    n_val = max(1, len(stories) // 20)
    train_s, val_s = stories[:-n_val], stories[-n_val:]
    pieces, scores = train_tokenizer(train_s, c["vocab"])
    c["vocab"] = len(pieces)
    enc = Encoder(pieces, scores)
    train_ids = torch.tensor([i for s in train_s for i in enc.encode(s)], dtype=torch.long)
    val_ids = torch.tensor([i for s in val_s for i in enc.encode(s)], dtype=torch.long)
    print(f"corpus: {len(train_s)} train / {len(val_s)} val stories, {len(train_ids)} / {len(val_ids)} tokens, "
          f"{sum(map(len, stories)) / len(train_ids) / (len(stories) / len(train_s)):.2f} chars/token", flush=True)

    model = Llama(c)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: {c}, {n_params} parameters", flush=True)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, betas=(0.9, 0.95), weight_decay=0.1)
    g = torch.Generator().manual_seed(a.seed)
    T = c["seq"]

    def batch(data, n):
        ix = torch.randint(len(data) - T - 1, (n,), generator=g)
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        return x, y

    @torch.no_grad()
    def evaluate(data, n=8):
        model.eval()
        losses = []
        for _ in range(n):
            x, y = batch(data, a.batch)
            losses.append(F.cross_entropy(model(x).view(-1, c["vocab"]), y.view(-1)).item())
        model.train()
        return sum(losses) / len(losses)

    warmup = 100
    t0 = time.time()
    for step in range(a.steps):
        lr = a.lr * min(1.0, (step + 1) / warmup) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / a.steps)))
        for pg in opt.param_groups:
            pg["lr"] = lr
        x, y = batch(train_ids, a.batch)
        loss = F.cross_entropy(model(x).view(-1, c["vocab"]), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 100 == 0 or step == a.steps - 1:
            print(f"step {step:5d}  loss {loss.item():.4f}  lr {lr:.2e}  {(time.time() - t0) / (step + 1):.2f} s/step", flush=True)

    train_loss, val_loss = evaluate(train_ids, 16), evaluate(val_ids, 16)
    os.makedirs(a.out, exist_ok=True)
    ckpt = os.path.join(a.out, f"{a.name}.bin")
    tok = os.path.join(a.out, f"{a.name}.tok.bin")
    export(model, ckpt)
    write_tokenizer(tok, pieces, scores)
    wall = time.time() - t_start
    card = {
        "name": a.name,
        "config": c,
        "parameters": n_params,
        "seed": a.seed,
        "steps": a.steps,
        "batch": a.batch,
        "stories": a.stories,
        "train_tokens": len(train_ids),
        "train_loss": round(train_loss, 4),
        "val_loss": round(val_loss, 4),
        "wall_s": round(wall, 1),
        "torch": torch.__version__,
        "threads": a.threads,
        "checkpoint_sha256": hashlib.sha256(open(ckpt, "rb").read()).hexdigest(),
        "tokenizer_sha256": hashlib.sha256(open(tok, "rb").read()).hexdigest(),
        "checkpoint_bytes": os.path.getsize(ckpt),
        "tokenizer_bytes": os.path.getsize(tok),
    }
    with open(os.path.join(a.out, f"{a.name}.train.json"), "w") as f:
        json.dump(card, f, indent=2)
    print(json.dumps(card, indent=2))


if __name__ == "__main__":
    main()
