"""Train Photoseek's tiny CLIP (`photoseek/tiny-shapes`) on generated shape pictures.

A real open_clip ``CLIP`` (a small CLIP-style ResNet image tower + a small text transformer, the real CLIP
BPE tokenizer), trained from scratch with a contrastive loss on app.shapes images drawn on the fly, so
tests and demos can exercise genuine text->image and image->image search without a 600 MB download.

Why a ResNet tower rather than a ViT: at the compute a shared 2-core CPU gives in ~10 minutes, every small
ViT tried (64 px, patch 8 or 16, width 96-160, 3-6 layers) stayed below 50% accuracy, stuck telling colours
apart but not shapes; open_clip's ModifiedResNet reached 99% in the same time. docs/tiny-model.md has the
measurements.

Run from the repository root (about 7-11 minutes on a shared 2-core CPU):

    python3 tools/train_tiny_clip.py            # writes tests/models/tiny-shapes/
    python3 tools/eval_tiny_clip.py --record    # measures it and records the results beside it

Determinism: the same --seed gives the same training images and the same initial weights.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import queue
import sys
import time
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

# Evaluated during training exactly as tools/eval_tiny_clip.py measures the finished model.
from eval_tiny_clip import CLASSES, class_text_features  # noqa: E402

from app.shapes import CAPTION_TEMPLATES, draw_shape  # noqa: E402

DEFAULT_OUT = REPO_ROOT / "tests" / "models" / "tiny-shapes"

MODEL_CFG: dict = {
    "embed_dim": 128,
    "quick_gelu": False,
    # A list of stage depths makes open_clip build its ModifiedResNet (CLIP's RN50 design, shrunk): final
    # channels width * 32 = 512, pooled by attention over the 2x2 grid left of a 64 px input.
    "vision_cfg": {"image_size": 64, "layers": [1, 1, 1, 1], "width": 16},
    # Token embedding is 49408 x width and dominates the file size, hence the narrow text tower.
    "text_cfg": {"context_length": 16, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 3},
}
PREPROCESS_CFG: dict = {
    "mean": [0.48145466, 0.4578275, 0.40821073],
    "std": [0.26862954, 0.26130258, 0.27577711],
    "interpolation": "bicubic",
    "resize_mode": "shortest",
}

# Captions naming only a colour or only a shape, so a search for "red" or "a star" also means something.
PARTIAL_TEMPLATES_COLOUR = ("a {c} shape", "something {c}")
PARTIAL_TEMPLATES_SHAPE = ("a {s}", "a photo of a {s}")
PARTIAL_CAPTION_SHARE = 0.2

# The picture variety training sees; eval draws from the same ranges with other seeds.
MIN_SIDE, MAX_SIDE, MAX_ASPECT = 48, 400, 2.0
TRAIN_SEED_TAG = 1  # eval uses another tag, so training never sees an eval picture


def random_picture_size(rng: np.random.Generator) -> tuple[int, int]:
    """A (width, height) between MIN_SIDE and MAX_SIDE, log-uniform, aspect ratio at most MAX_ASPECT."""
    short = math.exp(rng.uniform(math.log(MIN_SIDE), math.log(MAX_SIDE)))
    long = min(MAX_SIDE, short * math.exp(rng.uniform(0, math.log(MAX_ASPECT))))
    if rng.random() < 0.3:
        long = short  # plenty of square pictures, the common case in tests
    w, h = round(long), round(short)
    return (w, h) if rng.random() < 0.5 else (h, w)


def round_trip(img: Image.Image, fmt: str | None, quality: int) -> Image.Image:
    """Encode to bytes and decode with Pillow, as an imported file would be."""
    if fmt is None:
        return img
    buffer = io.BytesIO()
    img.save(buffer, fmt, **({"quality": quality} if fmt in ("JPEG", "WEBP") else {}))
    buffer.seek(0)
    return Image.open(buffer).convert("RGB")


def random_encoding(rng: np.random.Generator) -> tuple[str | None, int]:
    fmt = rng.choice(["JPEG", "PNG", "BMP", "WEBP", "none"], p=[0.5, 0.15, 0.1, 0.1, 0.15])
    return (None if fmt == "none" else str(fmt)), int(rng.integers(35, 96))


def resize_and_crop(img: Image.Image, size: int) -> Image.Image:
    """The geometric half of CLIP's eval preprocessing, exactly as open_clip's transform does it."""
    from torchvision.transforms import CenterCrop, InterpolationMode, Resize

    assert PREPROCESS_CFG["resize_mode"] == "shortest" and PREPROCESS_CFG["interpolation"] == "bicubic"
    return CenterCrop(size)(Resize(size, interpolation=InterpolationMode.BICUBIC)(img))


def caption_for(rng: np.random.Generator, colour: str, shape: str) -> tuple[str, str | None, str | None]:
    """A caption and the colour/shape it names (None where it leaves that out)."""
    if rng.random() < PARTIAL_CAPTION_SHARE:
        if rng.random() < 0.5:
            return str(rng.choice(PARTIAL_TEMPLATES_COLOUR)).format(c=colour), colour, None
        return str(rng.choice(PARTIAL_TEMPLATES_SHAPE)).format(s=shape), None, shape
    return str(rng.choice(CAPTION_TEMPLATES)).format(c=colour, s=shape), colour, shape


def draw_pictures(seed: int, first: int, count: int, size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pictures number first..first+count-1 of the training stream, cropped to model size (uint8, NCHW).

    A pure function of its arguments, so the stream is identical however the drawing is scheduled.
    """
    pixels = np.empty((count, 3, size, size), dtype=np.uint8)
    class_ids = np.empty(count, dtype=np.int64)
    for offset in range(count):
        index = first + offset
        rng = np.random.default_rng([TRAIN_SEED_TAG, seed, index])
        class_id = index % len(CLASSES)  # cycling through classes keeps the pool balanced
        colour, shape = CLASSES[class_id]
        image_seed = int(np.random.SeedSequence([TRAIN_SEED_TAG, seed, index]).generate_state(1)[0])
        img = draw_shape(colour, shape, size=random_picture_size(rng), seed=image_seed)
        img = resize_and_crop(round_trip(img, *random_encoding(rng)), size)
        pixels[offset] = np.asarray(img, dtype=np.uint8).transpose(2, 0, 1)
        class_ids[offset] = class_id
    return pixels, class_ids


class PicturePool:
    """Fresh pictures drawn on the fly into a ring buffer that batches sample from.

    Drawing, encoding and resizing a picture costs more CPU than a training pass over it, so each picture
    is kept (already cropped to model size) for a few batches while new ones replace the oldest. A
    background thread draws the next chunk while the model trains on the current batch (Pillow releases
    the GIL), using the second core. Shapes are drawn at random rotations, so the 8 flips/quarter-turns
    applied at sampling time are free, label-preserving variety.
    """

    def __init__(self, size: int, capacity: int, chunk: int, seed: int) -> None:
        import threading

        import torch

        self.size, self.capacity, self.chunk, self.seed = size, capacity, chunk, seed
        self.pixels = torch.empty((capacity, 3, size, size), dtype=torch.uint8)
        self.class_ids = torch.empty(capacity, dtype=torch.long)
        self.drawn = 0
        self._chunks: queue.Queue = queue.Queue(maxsize=2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name="picture-drawer", daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        first = 0
        while not self._stop.is_set():
            try:
                item = draw_pictures(self.seed, first, self.chunk, self.size)
            except Exception as exc:  # surfaced in the training thread by add_chunk()
                item = exc
            while not self._stop.is_set():
                try:
                    self._chunks.put(item, timeout=0.5)
                    break
                except queue.Full:
                    continue
            first += self.chunk

    def add_chunk(self) -> None:
        """Take the next drawn chunk into the pool (waits for the drawing thread if it is behind)."""
        import torch

        item = self._chunks.get()
        if isinstance(item, Exception):
            raise item
        pixels, class_ids = item
        slots = torch.arange(self.drawn, self.drawn + len(class_ids)) % self.capacity
        self.pixels[slots] = torch.from_numpy(pixels)
        self.class_ids[slots] = torch.from_numpy(class_ids)
        self.drawn += len(class_ids)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def batch(self, rng: np.random.Generator, batch_size: int):
        import torch

        filled = min(self.drawn, self.capacity)
        picks = torch.from_numpy(rng.choice(filled, size=batch_size, replace=False))
        pixels = self.pixels[picks].clone()
        transform = torch.from_numpy(rng.integers(0, 8, size=batch_size))
        for op in range(1, 8):
            chosen = transform == op
            if chosen.any():
                view = torch.rot90(pixels[chosen], op % 4, dims=(2, 3))
                pixels[chosen] = view.flip(3) if op >= 4 else view
        mean = torch.tensor(PREPROCESS_CFG["mean"]).view(1, 3, 1, 1)
        std = torch.tensor(PREPROCESS_CFG["std"]).view(1, 3, 1, 1)
        return (pixels.float() / 255 - mean) / std, self.class_ids[picks]


def make_batch(pool: PicturePool, step: int, batch_size: int, seed: int, tokenizer):
    import torch

    rng = np.random.default_rng([TRAIN_SEED_TAG, seed, step, 7])
    images, class_ids = pool.batch(rng, batch_size)
    captions, named = [], []
    for class_id in class_ids.tolist():
        text, text_colour, text_shape = caption_for(rng, *CLASSES[class_id])
        captions.append(text)
        named.append((text_colour, text_shape))
    colours = [CLASSES[c][0] for c in class_ids.tolist()]
    shapes = [CLASSES[c][1] for c in class_ids.tolist()]
    # match[i, j]: caption j truly describes image i (partial captions match many images).
    match = torch.tensor(
        [
            [(tc is None or tc == colours[i]) and (ts is None or ts == shapes[i]) for tc, ts in named]
            for i in range(batch_size)
        ],
        dtype=torch.float32,
    )
    return images, tokenizer(captions), match, class_ids


def multi_positive_clip_loss(image_features, text_features, logit_scale, match):
    """CLIP's symmetric contrastive loss with every true caption/image as a positive.

    Plain CLIP loss would treat two red circles in a batch as negatives of each other; with 48 classes a
    batch holds several of each, so the targets spread evenly over all matches instead.
    """
    import torch.nn.functional as F

    logits = logit_scale.exp().clamp(max=100) * image_features @ text_features.T
    image_targets = match / match.sum(dim=1, keepdim=True)
    text_targets = match / match.sum(dim=0, keepdim=True)
    image_loss = -(F.log_softmax(logits, dim=1) * image_targets).sum(dim=1).mean()
    text_loss = -(F.log_softmax(logits, dim=0) * text_targets).sum(dim=0).mean()
    return (image_loss + text_loss) / 2


def save_checkpoint(model, out_dir: Path, meta: dict) -> None:
    import torch
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    # fp16 halves the file (the 49408-row token embedding dominates); loading casts back to fp32. Integer
    # buffers (BatchNorm's num_batches_tracked) keep their dtype.
    state = {
        k: (v.detach().to(torch.float16) if v.is_floating_point() else v.detach()).contiguous()
        for k, v in model.state_dict().items()
    }
    weights = out_dir / "open_clip_model.safetensors"
    save_file(state, str(weights), metadata={"format": "pt"})
    weights.chmod(0o644)  # save_file creates it owner-only; the packaged app and other users read it
    config = {"model_cfg": MODEL_CFG, "preprocess_cfg": PREPROCESS_CFG}
    (out_dir / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")
    (out_dir / "training.json").write_text(json.dumps(meta, indent=2) + "\n")


def build_optimizers(model, lr: float, weight_decay: float):
    import torch

    # The token embedding is 49408 rows of which captions use ~25: sparse gradients and SparseAdam update
    # only those rows, instead of dense Adam sweeping 3M parameters every step.
    model.token_embedding.sparse = True
    dense = [(n, p) for n, p in model.named_parameters() if n != "token_embedding.weight"]
    decay = [p for n, p in dense if p.ndim >= 2 and "embedding" not in n]
    no_decay = [p for n, p in dense if not (p.ndim >= 2 and "embedding" not in n)]
    adamw = torch.optim.AdamW(
        [{"params": decay, "weight_decay": weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr,
        betas=(0.9, 0.98),
        eps=1e-6,
    )
    sparse = torch.optim.SparseAdam([model.token_embedding.weight], lr=lr, betas=(0.9, 0.98), eps=1e-6)
    return [adamw, sparse]


def learning_rate(step: int, steps: int, peak: float, warmup: int) -> float:
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, steps - warmup)
    return peak * 0.5 * (1 + math.cos(math.pi * progress))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="checkpoint directory")
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=2e-3)
    parser.add_argument("--weight-decay", type=float, default=0.05)
    parser.add_argument("--warmup", type=int, default=25)
    parser.add_argument("--pool-size", type=int, default=4800, help="pictures kept for sampling")
    parser.add_argument("--fresh-per-step", type=int, default=48, help="new pictures drawn per step")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--vision-cfg", type=json.loads, default={}, help="JSON merged into vision_cfg (experiments)"
    )
    # One torch thread: the picture-drawing thread uses the other core, and on a shared, loaded machine two
    # torch threads spin-wait for each other (measured 5x slower per step than one).
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--log-every", type=int, default=25)
    args = parser.parse_args(argv)
    if args.steps < 1 or not len(CLASSES) <= args.batch_size <= args.pool_size:
        parser.error(f"need --steps >= 1 and {len(CLASSES)} <= --batch-size <= --pool-size")

    import open_clip
    import torch
    import torch.nn.functional as F

    MODEL_CFG["vision_cfg"].update(args.vision_cfg)
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = open_clip.model.CLIP(**MODEL_CFG)
    model.train()
    tokenizer = open_clip.SimpleTokenizer(context_length=MODEL_CFG["text_cfg"]["context_length"])
    pool = PicturePool(MODEL_CFG["vision_cfg"]["image_size"], args.pool_size, args.fresh_per_step, args.seed)
    optimizers = build_optimizers(model, args.lr, args.weight_decay)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"tiny CLIP: {n_params / 1e6:.2f}M parameters, {args.steps} steps x {args.batch_size} pictures")

    started = time.perf_counter()
    # Start once a few batches' worth exist; the pool keeps growing to --pool-size as training runs.
    while pool.drawn < 2 * args.batch_size:
        pool.add_chunk()
    data_seconds = time.perf_counter() - started
    print(f"drew {pool.drawn} starting pictures in {data_seconds:.0f}s", flush=True)
    running_loss = 0.0
    for step in range(args.steps):
        t0 = time.perf_counter()
        pool.add_chunk()
        images, tokens, match, class_ids = make_batch(pool, step, args.batch_size, args.seed, tokenizer)
        data_seconds += time.perf_counter() - t0
        lr = learning_rate(step, args.steps, args.lr, args.warmup)
        for optimizer in optimizers:
            for group in optimizer.param_groups:
                group["lr"] = lr

        image_features = F.normalize(model.encode_image(images), dim=-1)
        text_features = F.normalize(model.encode_text(tokens), dim=-1)
        loss = multi_positive_clip_loss(image_features, text_features, model.logit_scale, match)
        for optimizer in optimizers:
            optimizer.zero_grad(set_to_none=True)
        loss.backward()
        dense_grads = [p for p in model.parameters() if p.grad is not None and not p.grad.is_sparse]
        torch.nn.utils.clip_grad_norm_(dense_grads, 1.0)
        for optimizer in optimizers:
            optimizer.step()

        running_loss = loss.item() if step == 0 else 0.9 * running_loss + 0.1 * loss.item()
        if step % args.log_every == 0 or step == args.steps - 1:
            # In-batch zero-shot accuracy against the 48 class prompts: a cheap health signal, not the eval.
            with torch.no_grad():
                predicted = (image_features @ class_text_features(model, tokenizer).T).argmax(dim=1)
            batch_acc = (predicted == class_ids).float().mean().item()
            elapsed = time.perf_counter() - started
            eta = elapsed / (step + 1) * (args.steps - step - 1)
            print(
                f"step {step + 1:4d}/{args.steps}  loss {running_loss:.3f}  batch acc {batch_acc:.2f}  "
                f"lr {lr:.2e}  scale {model.logit_scale.exp().item():5.1f}  "
                f"{elapsed:5.0f}s elapsed (waited {data_seconds:3.0f}s for pictures)  eta {eta:4.0f}s",
                flush=True,
            )

    train_seconds = time.perf_counter() - started
    pool.close()
    model.eval()
    meta = {
        "parameters": n_params,
        **{k: v for k, v in vars(args).items() if k not in ("out", "log_every")},
        "pictures_seen": args.steps * args.batch_size,
        "pictures_drawn": pool.drawn,
        "train_seconds": round(train_seconds, 1),
        "data_wait_seconds": round(data_seconds, 1),
        "final_loss": round(running_loss, 4),
        "torch": torch.__version__,
        "open_clip": open_clip.__version__,
    }
    save_checkpoint(model, args.out, meta)
    size = sum(f.stat().st_size for f in args.out.iterdir() if f.is_file())
    print(f"saved {args.out} ({size / 1e6:.1f} MB) after {train_seconds:.0f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
