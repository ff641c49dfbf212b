"""A tiny decoder-only transformer over bytes: the spot-check proxy (needs the optional `torch` extra).

It checks, on a few cells, that the n-gram proxy ranks subsets the way a neural language model does.
Same unit as the n-gram model (bytes), so losses are comparable. Training draws random windows of
`context + 1` bytes from the training stream (seeded), AdamW with a short warm-up and cosine decay, for
`tokens / (batch · context)` steps; CPU here, a GPU when torch sees one. Evaluation scores every byte of
consecutive windows of the evaluation stream.

    pip install torch==2.13.0      # the CPU build; an unpinned `torch` pulls several GB of CUDA packages
"""

from __future__ import annotations

import math

import numpy as np

from curate.errors import UserError


def _torch():
    try:
        import torch
    except ImportError:
        raise UserError(
            "the transformer proxy needs PyTorch: `pip install torch==2.13.0` (the CPU build), or "
            "drop models.transformer from the sweep config."
        ) from None
    return torch


def _build(cfg: dict):
    torch = _torch()
    nn = torch.nn

    class Block(nn.Module):
        def __init__(self, d: int, heads: int):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
            self.attn = nn.MultiheadAttention(d, heads, batch_first=True)
            self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

        def forward(self, x, mask):
            h = self.ln1(x)
            x = x + self.attn(h, h, h, attn_mask=mask, need_weights=False)[0]
            return x + self.mlp(self.ln2(x))

    class ByteTransformer(nn.Module):
        def __init__(self):
            super().__init__()
            d, ctx = cfg["d_model"], cfg["context"]
            self.embed = nn.Embedding(256, d)
            self.pos = nn.Embedding(ctx, d)
            self.blocks = nn.ModuleList(Block(d, cfg["heads"]) for _ in range(cfg["layers"]))
            self.ln = nn.LayerNorm(d)
            self.head = nn.Linear(d, 256, bias=False)
            self.head.weight = self.embed.weight  # tied input and output embeddings
            self.register_buffer("mask", torch.triu(torch.full((ctx, ctx), float("-inf")), diagonal=1))

        def forward(self, idx):  # (batch, time) -> (batch, time, 256) logits
            t = idx.shape[1]
            x = self.embed(idx) + self.pos(torch.arange(t, device=idx.device))
            for block in self.blocks:
                x = block(x, self.mask[:t, :t])
            return self.head(self.ln(x))

    return ByteTransformer()


class TrainedTransformer:
    def __init__(self, model, cfg: dict, device):
        self.model, self.cfg, self.device = model, cfg, device

    @property
    def n_params(self) -> int:
        """Non-embedding parameters (Kaplan et al.'s N): the token and position embeddings (the output
        layer shares the token embedding) are left out."""
        total = sum(p.numel() for p in self.model.parameters())
        return int(total - self.model.embed.weight.numel() - self.model.pos.weight.numel())

    def evaluate(self, stream: np.ndarray, text_bytes: int | None = None) -> dict[str, float]:
        torch = _torch()
        ctx = self.cfg["context"]
        n = (len(stream) - 1) // ctx * ctx
        if n <= 0:
            raise ValueError("the evaluation stream is shorter than one context window")
        x = torch.from_numpy(stream[:n].astype(np.int64)).view(-1, ctx)
        y = torch.from_numpy(stream[1 : n + 1].astype(np.int64)).view(-1, ctx)
        total = 0.0
        self.model.eval()
        with torch.no_grad():
            for i in range(0, len(x), 64):
                logits = self.model(x[i : i + 64].to(self.device))
                total += float(
                    torch.nn.functional.cross_entropy(
                        logits.reshape(-1, 256), y[i : i + 64].to(self.device).reshape(-1), reduction="sum"
                    )
                )
        n_text = text_bytes if text_bytes is not None else int((stream != 0).sum())
        return {
            "nats_per_token": total / n,
            "bits_per_byte": total / n / math.log(2) * n / max(n_text, 1),
            "tokens": n,
        }


def checkpoint_steps(steps: int, points: int) -> list[int]:
    """Steps after which a learning curve records the held-out loss: `points` steps, halving back from the
    last (steps/16, steps/8, ..., steps for 5 points), distinct and at least 1."""
    return sorted({max(1, round(steps / 2**k)) for k in range(max(points, 1))})


def train_transformer(
    stream: np.ndarray,
    tokens: int,
    cfg: dict,
    seed: int = 0,
    on_checkpoint=None,
) -> TrainedTransformer:
    """Train on `tokens` bytes drawn as random windows of `stream` (so fewer unique bytes repeat).

    With `on_checkpoint(tokens_seen, trained)`, the model is handed over at `cfg["curve_points"]` points of
    training (`checkpoint_steps`): a learning curve. The points lie on one cosine schedule, so an early
    point is not what a run of that length would reach (it stopped at a high learning rate): curves read
    as "loss after t tokens of this run"."""
    torch = _torch()
    torch.manual_seed(seed)
    torch.set_num_threads(1)  # one worker process, one core
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    ctx, batch = cfg["context"], cfg["batch"]
    if len(stream) <= ctx + 1:
        raise ValueError(f"a training stream of {len(stream)} bytes is shorter than one window of {ctx + 1}")
    model = _build(cfg).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=0.01)
    steps = max(1, tokens // (batch * ctx))
    warmup = max(1, steps // 20)
    schedule = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warmup) * 0.5 * (1 + math.cos(math.pi * min(s / steps, 1.0)))
    )
    rng = np.random.default_rng(seed)
    data = torch.from_numpy(stream.astype(np.int64))
    checkpoints = set(checkpoint_steps(steps, cfg.get("curve_points", 0))) if on_checkpoint else set()
    trained = TrainedTransformer(model, cfg, device)
    model.train()
    for step in range(1, steps + 1):
        starts = torch.from_numpy(rng.integers(0, len(stream) - ctx - 1, size=batch))
        window = torch.stack([data[s : s + ctx + 1] for s in starts]).to(device)
        logits = model(window[:, :-1])
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, 256), window[:, 1:].reshape(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        schedule.step()
        if step in checkpoints:
            on_checkpoint(step * batch * ctx, trained)
            model.train()
    return trained
