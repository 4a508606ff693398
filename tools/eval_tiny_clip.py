"""Evaluate Photoseek's tiny CLIP on freshly drawn shape pictures it never saw.

Loads the checkpoint the way the app does (open_clip ``local-dir:`` from the config + safetensors beside
it), draws pictures with seeds training never uses, at 48-400 px with aspect ratios up to 2:1, round-trips
them through JPEG/PNG/BMP bytes decoded by Pillow, and reports:

- zero-shot accuracy over the 48 classes (prompts from all caption templates, averaged), overall and per
  colour / shape / format / size;
- text->image retrieval: for each "a {colour} {shape}" query, how many of the top-N pictures (N = that
  class's count) are the class, and whether the top hit is;
- image->image: whether a picture's nearest neighbours share its class.

    python3 tools/eval_tiny_clip.py            # print the results
    python3 tools/eval_tiny_clip.py --record   # also write eval.json + README.md into the model dir
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
from PIL import Image

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from app.shapes import CAPTION_TEMPLATES, COLOURS, SHAPES, draw_shape, encode_image  # noqa: E402

DEFAULT_MODEL_DIR = REPO_ROOT / "tests" / "models" / "tiny-shapes"
CLASSES = [(c, s) for c in COLOURS for s in SHAPES]
EVAL_SEED_TAG = 2  # training draws with tag 1, so no eval picture was ever trained on
FORMATS = ("JPEG", "PNG", "BMP")
MIN_SIDE, MAX_SIDE, MAX_ASPECT = 48, 400, 2.0


def load_tiny_clip(model_dir: Path):
    """(model, preprocess, tokenizer) exactly as documented in docs/tiny-model.md."""
    import open_clip

    name = f"local-dir:{Path(model_dir).resolve()}"
    model, _, preprocess = open_clip.create_model_and_transforms(name)
    tokenizer = open_clip.get_tokenizer(name)
    model.eval()
    return model, preprocess, tokenizer


def eval_picture(class_id: int, index: int, seed: int) -> tuple[Image.Image, str, int]:
    """One test picture for the class: decoded from its encoded bytes, plus its format and short side."""
    rng = np.random.default_rng([EVAL_SEED_TAG, seed, index, class_id])
    short = round(math.exp(rng.uniform(math.log(MIN_SIDE), math.log(MAX_SIDE))))
    long = min(MAX_SIDE, round(short * rng.uniform(1.0, MAX_ASPECT)))
    size = (long, short) if rng.random() < 0.5 else (short, long)
    fmt = FORMATS[(index + class_id) % len(FORMATS)]
    colour, shape = CLASSES[class_id]
    image_seed = int(np.random.SeedSequence([EVAL_SEED_TAG, seed, index, class_id]).generate_state(1)[0])
    img = draw_shape(colour, shape, size=size, seed=image_seed)
    data = encode_image(img, fmt, quality=int(rng.integers(50, 96)))
    return Image.open(io.BytesIO(data)).convert("RGB"), fmt, short


def class_text_features(model, tokenizer):
    import torch
    import torch.nn.functional as F

    prompts = [t.format(c=c, s=s) for c, s in CLASSES for t in CAPTION_TEMPLATES]
    with torch.no_grad():
        features = F.normalize(model.encode_text(tokenizer(prompts)), dim=-1)
    features = features.view(len(CLASSES), len(CAPTION_TEMPLATES), -1).mean(dim=1)
    return F.normalize(features, dim=-1)


def text_features(model, tokenizer, texts: list[str]):
    import torch
    import torch.nn.functional as F

    with torch.no_grad():
        return F.normalize(model.encode_text(tokenizer(texts)), dim=-1)


SIZE_BUCKETS = ("48-95px", "96-199px", "200-400px")


def size_bucket(short: int) -> str:
    """Which SIZE_BUCKETS entry a picture's short side falls in."""
    return SIZE_BUCKETS[0] if short < 96 else (SIZE_BUCKETS[1] if short < 200 else SIZE_BUCKETS[2])


def evaluate(model_dir: Path, per_class: int, seed: int, batch_size: int = 96) -> dict:
    import torch
    import torch.nn.functional as F

    model, preprocess, tokenizer = load_tiny_clip(model_dir)
    labels, formats, shorts, features = [], [], [], []
    started = time.perf_counter()
    pending: list = []

    def flush() -> None:
        if pending:
            with torch.no_grad():
                features.append(F.normalize(model.encode_image(torch.stack(pending)), dim=-1))
            pending.clear()

    for index in range(per_class):
        for class_id in range(len(CLASSES)):
            img, fmt, short = eval_picture(class_id, index, seed)
            pending.append(preprocess(img))
            labels.append(class_id)
            formats.append(fmt)
            shorts.append(short)
            if len(pending) == batch_size:
                flush()
    flush()
    image_features = torch.cat(features)
    labels_t = torch.tensor(labels)
    seconds = time.perf_counter() - started

    predicted = (image_features @ class_text_features(model, tokenizer).T).argmax(dim=1)
    correct = (predicted == labels_t).tolist()

    known_order = [*COLOURS, *SHAPES, *FORMATS, *SIZE_BUCKETS]

    def order(key: str) -> int:
        return known_order.index(key) if key in known_order else len(known_order)

    def accuracy_by(keys: list[str]) -> dict[str, float]:
        totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for key, ok in zip(keys, correct, strict=True):
            totals[key][0] += ok
            totals[key][1] += 1
        return {k: round(v[0] / v[1], 4) for k, v in sorted(totals.items(), key=lambda kv: order(kv[0]))}

    confusions: dict[str, int] = defaultdict(int)
    for truth, guess in zip(labels, predicted.tolist(), strict=True):
        if truth != guess:
            confusions[f"{' '.join(CLASSES[truth])} -> {' '.join(CLASSES[guess])}"] += 1

    # Text->image retrieval with the plain caption, the way a user (and the engine tests) would search.
    queries = text_features(model, tokenizer, [f"a {c} {s}" for c, s in CLASSES])
    ranking = (queries @ image_features.T).argsort(dim=1, descending=True)
    r_precision = [
        (labels_t[ranking[q, :per_class]] == q).float().mean().item() for q in range(len(CLASSES))
    ]
    top1_hits = [(labels_t[ranking[q, 0]] == q).item() for q in range(len(CLASSES))]

    # Colour-only and shape-only queries.
    colour_of = torch.tensor([COLOURS.index(CLASSES[c][0]) for c in labels])
    shape_of = torch.tensor([SHAPES.index(CLASSES[c][1]) for c in labels])
    colour_queries = text_features(model, tokenizer, [f"a {c} shape" for c in COLOURS])
    shape_queries = text_features(model, tokenizer, [f"a {s}" for s in SHAPES])
    n_colour, n_shape = per_class * len(SHAPES), per_class * len(COLOURS)
    colour_precision = [
        (colour_of[(colour_queries[i] @ image_features.T).argsort(descending=True)[:n_colour]] == i)
        .float()
        .mean()
        .item()
        for i in range(len(COLOURS))
    ]
    shape_precision = [
        (shape_of[(shape_queries[i] @ image_features.T).argsort(descending=True)[:n_shape]] == i)
        .float()
        .mean()
        .item()
        for i in range(len(SHAPES))
    ]

    # Image->image: nearest neighbours other than the picture itself.
    similarity = image_features @ image_features.T
    similarity.fill_diagonal_(-2)
    neighbours = similarity.topk(5, dim=1).indices
    neighbour_labels = labels_t[neighbours]
    nn1 = (neighbour_labels[:, 0] == labels_t).float().mean().item()
    nn5 = (neighbour_labels == labels_t[:, None]).float().mean().item()

    return {
        "pictures": len(labels),
        "per_class": per_class,
        "seed": seed,
        "zero_shot_accuracy": round(float(np.mean(correct)), 4),
        "by_colour": accuracy_by([CLASSES[c][0] for c in labels]),
        "by_shape": accuracy_by([CLASSES[c][1] for c in labels]),
        "by_format": accuracy_by(formats),
        "by_size": accuracy_by([size_bucket(s) for s in shorts]),
        "top_confusions": dict(sorted(confusions.items(), key=lambda kv: -kv[1])[:10]),
        "text_to_image_r_precision": round(float(np.mean(r_precision)), 4),
        "text_to_image_top1": round(float(np.mean(top1_hits)), 4),
        "worst_query_r_precision": {
            f"a {CLASSES[q][0]} {CLASSES[q][1]}": round(r_precision[q], 3)
            for q in np.argsort(r_precision)[:3].tolist()
        },
        "colour_query_precision": round(float(np.mean(colour_precision)), 4),
        "shape_query_precision": round(float(np.mean(shape_precision)), 4),
        "image_nn1_same_class": round(nn1, 4),
        "image_nn5_same_class": round(nn5, 4),
        "seconds": round(seconds, 1),
    }


def print_report(result: dict) -> None:
    print(f"pictures: {result['pictures']} ({result['per_class']} per class), eval seed {result['seed']}")
    print(f"zero-shot accuracy (48 classes): {result['zero_shot_accuracy']:.2%}")
    for title in ("by_colour", "by_shape", "by_format", "by_size"):
        cells = "  ".join(f"{k} {v:.1%}" for k, v in result[title].items())
        print(f"  {title.replace('_', ' ')}: {cells}")
    print(f"text->image 'a <colour> <shape>': R-precision {result['text_to_image_r_precision']:.2%}, "
          f"top-1 correct {result['text_to_image_top1']:.2%}")
    print(f"  weakest queries: {result['worst_query_r_precision']}")
    print(f"colour-only queries ('a red shape') precision {result['colour_query_precision']:.2%}, "
          f"shape-only ('a star') {result['shape_query_precision']:.2%}")
    print(f"image->image: nearest neighbour same class {result['image_nn1_same_class']:.2%}, "
          f"top-5 neighbours same class {result['image_nn5_same_class']:.2%}")
    if result["top_confusions"]:
        print(f"most common mistakes: {result['top_confusions']}")


def write_readme(model_dir: Path, result: dict) -> None:
    training_path = model_dir / "training.json"
    training = json.loads(training_path.read_text()) if training_path.exists() else {}
    files = sorted(p for p in model_dir.iterdir() if p.is_file() and p.name != "README.md")
    size_mb = sum(p.stat().st_size for p in files) / 1e6
    lines = [
        "# photoseek/tiny-shapes",
        "",
        "A tiny CLIP (open_clip `CLIP`, real CLIP BPE tokenizer) trained from scratch by",
        "`tools/train_tiny_clip.py` on `app/shapes.py` pictures: 8 colours x 6 shapes. Test/demo use only;",
        "it knows nothing but these shapes. Loading and details: `docs/tiny-model.md`.",
        "",
        f"- files: {', '.join(p.name for p in files)} ({size_mb:.1f} MB)",
        f"- training: {training.get('steps', '?')} steps x {training.get('batch_size', '?')} pictures, "
        f"{training.get('train_seconds', '?')} s (1 torch thread + 1 picture-drawing thread)",
        f"- eval ({result['pictures']} unseen pictures, `tools/eval_tiny_clip.py`):",
        f"  - zero-shot accuracy: {result['zero_shot_accuracy']:.2%}",
        f"  - text->image R-precision: {result['text_to_image_r_precision']:.2%}",
        f"  - image nearest neighbour same class: {result['image_nn1_same_class']:.2%}",
        "",
    ]
    (model_dir / "README.md").write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model-dir", type=Path, default=DEFAULT_MODEL_DIR)
    parser.add_argument("--per-class", type=int, default=20, help="test pictures per class")
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    parser.add_argument("--record", action="store_true", help="write eval.json + README.md to the model dir")
    parser.add_argument("--min-accuracy", type=float, default=0.9, help="exit 1 below this accuracy")
    args = parser.parse_args(argv)
    if not (args.model_dir / "open_clip_config.json").is_file():
        parser.error(f"no open_clip_config.json in {args.model_dir}; train first (tools/train_tiny_clip.py)")

    import torch

    torch.set_num_threads(args.threads)
    result = evaluate(args.model_dir, args.per_class, args.seed)
    print_report(result)
    if args.record:
        (args.model_dir / "eval.json").write_text(json.dumps(result, indent=2) + "\n")
        write_readme(args.model_dir, result)
        print(f"recorded eval.json and README.md in {args.model_dir}")
    return 0 if result["zero_shot_accuracy"] >= args.min_accuracy else 1


if __name__ == "__main__":
    raise SystemExit(main())
