"""Embedder: batched CLIP text and image embedding, with image decoding running ahead of inference.

torch and open_clip are imported inside functions: importing this module stays cheap.
"""

from __future__ import annotations

import collections
import contextlib
import ctypes
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast, overload

import numpy as np
from PIL import Image

from app.engine import compute
from app.engine.compute import ComputePath
from app.engine.compute_choice import ComputeChoice, choose, normalised
from app.engine.errors import ModelUnavailable
from app.engine.image_input import as_image_error
from app.engine.images import ImageError, decode_base64, load_image, preprocess_for_clip
from app.engine.models import ModelSpec, download_weights, weights_path
from app.engine.text_tower import encode_text
from app.engine.weights_check import load_model

if TYPE_CHECKING:
    import torch

log = logging.getLogger(__name__)

K = TypeVar("K")
# str is base64 text: decoding it here moves that work onto the decode threads, off the importing thread.
ImageInput = bytes | str | Image.Image
TEXT_BATCH = 64
# Recent queries' vectors: the next page of a text search, a filter changed under the same words and
# "search as you type" going back a letter all ask for a text already encoded.
TEXT_CACHE_SIZE = 256


class _ClipEncoders(Protocol):
    """The call the embedder makes on an open_clip model (CLIP and CustomTextCLIP alike); texts go
    through app.engine.text_tower, which stops at the query's end."""

    def encode_image(self, image: torch.Tensor) -> torch.Tensor: ...


class Embedder:
    """A loaded open_clip model with its tokenizer and preprocessing; vectors come out L2-normalised.

    Safe to share between threads: forward passes are serialised, because two at once would only fight
    over the same cores.
    """

    def __init__(
        self,
        spec: ModelSpec,
        model: torch.nn.Module,
        tokenizer: Callable,
        *,
        random_weights: bool,
        compute_choice: ComputeChoice | None = None,
    ):
        self.spec = spec
        self.random_weights = random_weights
        # Where and in what precision the forward passes run (app.engine.compute_choice measured it).
        self.compute_choice = compute_choice or ComputeChoice(compute.FP32_CPU, "asked for")
        self._model = model
        # torch types a module's attributes as Tensor | Module: name the methods open_clip's models have.
        self._encoders = cast(_ClipEncoders, model)
        self._tokenizer = tokenizer
        self._forward_lock = threading.Lock()
        self._text_cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()
        self._text_cache_lock = threading.Lock()
        # Set while no forward pass runs. Decode workers wait for it before starting an image: see
        # embed_image_stream for why decoding takes the gaps between forward passes.
        self._model_idle = threading.Event()
        self._model_idle.set()
        self.decode_workers = os.cpu_count() or 1

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def dims(self) -> int:
        return self.spec.dims

    @property
    def compute_path(self) -> ComputePath:
        return self.compute_choice.path

    @property
    def model(self) -> torch.nn.Module:
        """The bare open_clip model (benchmarks time its forward pass on their own)."""
        return self._model

    def embed_texts(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dims) float32, each row L2-normalised."""
        if isinstance(texts, str):
            raise TypeError("embed_texts takes a sequence of strings, not a single string")
        texts = list(texts)
        for i, text in enumerate(texts):
            if not isinstance(text, str):
                raise TypeError(f"embed_texts: item {i} is {type(text).__name__}, not a string")
        out = np.empty((len(texts), self.dims), dtype=np.float32)
        todo: list[int] = []  # rows no remembered vector answers
        with self._text_cache_lock:
            for i, text in enumerate(texts):
                remembered = self._text_cache.get(text)
                if remembered is None:
                    todo.append(i)
                else:
                    out[i] = remembered
                    self._text_cache.move_to_end(text)
        for start in range(0, len(todo), TEXT_BATCH):
            rows = todo[start : start + TEXT_BATCH]
            tokens = self._tokenizer([texts[i] for i in rows])
            out[rows] = self._forward(self._encode_text, tokens)
        with self._text_cache_lock:
            for i in todo:
                self._text_cache[texts[i]] = out[i].copy()
                self._text_cache.move_to_end(texts[i])
            while len(self._text_cache) > TEXT_CACHE_SIZE:
                self._text_cache.popitem(last=False)
        return out

    def embed_images(self, images: Sequence[ImageInput]) -> list[np.ndarray | ImageError]:
        """One result per input, in order: a normalised vector, or the ImageError saying why not."""
        if len(images) == 1:  # a search query: not worth starting decode threads
            prepared = self._prepare(images[0])
            if not isinstance(prepared, np.ndarray):
                return [prepared]
            return [self.embed_pixels(prepared[None])[0]]
        return [result for _, result in self.embed_image_stream(enumerate(images))]

    def preprocess(self, image: ImageInput) -> np.ndarray:
        """Decode (JPEG at reduced DCT scale) and preprocess one image to the model's CHW float32 input."""
        if isinstance(image, str):
            image = decode_base64(image)
        img = image if isinstance(image, Image.Image) else load_image(image, min_side=self.spec.image_size)
        return preprocess_for_clip(img, self.spec.image_size, self.spec.mean, self.spec.std)

    @overload
    def _prepare(self, image: ImageInput) -> np.ndarray | ImageError: ...

    @overload
    def _prepare(self, image: None) -> None: ...

    def _prepare(self, image: ImageInput | None) -> np.ndarray | ImageError | None:
        self._model_idle.wait()
        if image is None:
            # Passthrough: callers interleave items without an image to keep their own order.
            return None
        try:
            return self.preprocess(image)
        except Exception as exc:
            # On a decode thread an escaping exception would end the whole stream, and with it every
            # other image of the import: whatever one image raises is that image's error.
            return as_image_error(exc)

    @overload
    def embed_image_stream(
        self, items: Iterable[tuple[K, ImageInput]], *, batch_size: int = 16
    ) -> Iterator[tuple[K, np.ndarray | ImageError]]: ...

    @overload
    def embed_image_stream(
        self, items: Iterable[tuple[K, ImageInput | None]], *, batch_size: int = 16
    ) -> Iterator[tuple[K, np.ndarray | ImageError | None]]: ...

    def embed_image_stream(
        self, items: Iterable[tuple[K, ImageInput | None]], *, batch_size: int = 16
    ) -> Iterator[tuple[K, np.ndarray | ImageError | None]]:
        """Embed ``(key, image)`` pairs lazily, yielding ``(key, vector or ImageError)`` in input order.

        An item whose image is None passes through as ``(key, None)``, so callers can keep their own
        order for items without an image.

        Decoding runs on a pool of one thread per core that stays up to two batches ahead of the model
        (so at most ``2 * batch_size`` decoded images are held) and overlaps everything but the forward
        pass itself: reading the input, the caller's work on each result, and the model's idle moments.
        Workers do not start an image while the model runs: torch already keeps every core busy then,
        and a decode thread preempting one of its threads stalls the others at the next barrier.
        Decoding in the gaps measured a few percent faster than free-running workers on 2 cores, and
        keeps the process from oversubscribing cores others need (benchmarks/bench_import.py).
        The pool lives as long as the stream: close an abandoned stream (or let it be collected).
        """
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        source = iter(items)
        pool = ThreadPoolExecutor(self.decode_workers, thread_name_prefix="photoseek-decode")
        pending: collections.deque[tuple[K, Future]] = collections.deque()
        ahead = 2 * batch_size
        exhausted = False

        def refill() -> None:
            nonlocal exhausted
            while not exhausted and len(pending) < ahead:
                try:
                    key, image = next(source)
                except StopIteration:
                    exhausted = True
                    return
                pending.append((key, pool.submit(self._prepare, image)))

        try:
            while True:
                refill()
                if not pending:
                    return
                batch = [pending.popleft() for _ in range(min(batch_size, len(pending)))]
                # Queue the next images before this batch's forward pass so the pool never idles on it.
                refill()
                prepared = [(key, future.result()) for key, future in batch]
                good = [pixels for _, pixels in prepared if isinstance(pixels, np.ndarray)]
                vectors = iter(self.embed_pixels(np.stack(good)) if good else ())
                for key, pixels in prepared:
                    yield key, (next(vectors) if isinstance(pixels, np.ndarray) else pixels)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def embed_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """Vectors for a batch of preprocessed (N, 3, H, W) float32 pixels: the bare forward pass."""
        import torch

        return self._forward(self._encoders.encode_image, torch.from_numpy(pixels))

    def _encode_text(self, tokens: torch.Tensor) -> torch.Tensor:
        return encode_text(self._model, tokens)

    def _forward(self, encode: Callable, batch: Any) -> np.ndarray:
        import torch

        # On a GPU the forward pass leaves the processor to the decode threads: holding them back there
        # would starve the GPU, so only a CPU forward pass makes them wait.
        on_cpu = self.compute_path.device == "cpu"
        with self._forward_lock, torch.inference_mode():
            if on_cpu:
                self._model_idle.clear()
            try:
                return normalised(encode(compute.to_input(batch, self.compute_path)))
            finally:
                self._model_idle.set()

    def close(self) -> None:
        """Nothing to release today (decode threads live only as long as their stream); kept so owners
        can hand an embedder back without knowing what it holds."""


_cache: dict[tuple[ModelSpec, bool, str], Embedder] = {}
_cache_lock = threading.Lock()
_threads_configured = False


def load_embedder(
    spec: ModelSpec,
    *,
    allow_random_weights: bool = False,
    download: bool = False,
    progress: Callable[[int, int | None], None] | None = None,
    cancel: threading.Event | None = None,
) -> Embedder:
    """The Embedder for ``spec``, loaded once per process (concurrent callers wait for the one load).

    Missing weights: downloaded first with ``download=True``; a seeded random model with
    ``allow_random_weights=True`` (tests and benchmarks only); otherwise ModelUnavailable.
    """
    with _cache_lock:
        path = weights_path(spec)
        have_weights = path is not None and path.is_file()
        if not have_weights and download and spec.pretrained is not None and spec.model_path is None:
            path = download_weights(spec, progress=progress, cancel=cancel)
            have_weights = True
        if not have_weights and not allow_random_weights:
            raise ModelUnavailable(
                f"The weights for model `{spec.name}` are not on this machine (expected `{path}`). "
                "Download them first, or set model_config.model_path to a local weights file."
            )
        request = compute.effective_request()
        key = (spec, not have_weights, str(request))
        embedder = _cache.get(key)
        if embedder is None:
            embedder = _build(spec, path if have_weights else None, request)
            _cache[key] = embedder
        return embedder


def loaded_compute_choice(model_name: str) -> ComputeChoice | None:
    """How the loaded model named ``model_name`` runs (for the current device request), or None if it is
    not loaded in this process."""
    request = str(compute.effective_request())
    with _cache_lock:
        for (spec, _random, asked), embedder in _cache.items():
            if spec.name == model_name and asked == request:
                return embedder.compute_choice
    return None


def clear_embedder_cache() -> None:
    """Forget loaded models (their memory goes once nothing else holds them); the next load starts over."""
    with _cache_lock:
        for embedder in _cache.values():
            embedder.close()
        _cache.clear()


def _build(spec: ModelSpec, path: Path | None, request: compute.ComputeRequest) -> Embedder:
    import open_clip

    _configure_threads()
    # Whether the file is the official one does not matter here: a file that loads strictly into the
    # architecture (fine-tuned, say) is as good as the official one, and one that does not is refused.
    model = load_model(spec, path)
    if path is None:
        log.warning("Model `%s` has no weights here: using RANDOM weights (tests/benchmarks only)", spec.name)
    model = model.float().eval().requires_grad_(False)
    tokenizer = open_clip.get_tokenizer(spec.arch, context_length=model.context_length)
    model_key = f"{spec.name}|{spec.arch}|{path.name if path else 'random weights'}"
    model, choice = choose(
        model, model_key=model_key, image_size=spec.image_size, tokenizer=tokenizer, request=request
    )
    log.info("Model `%s` runs on %s", spec.name, choice.describe())
    _return_freed_memory()
    return Embedder(spec, model, tokenizer, random_weights=path is None, compute_choice=choice)


def _return_freed_memory() -> None:
    # Converting a model (int8 replaces its fp32 Linear weights) and measuring paths free hundreds of MB
    # that glibc keeps in its heap; handing them back to the system measured 110-300 MB less resident
    # memory for ViT-B-32 (benchmarks/bench_search.py). Elsewhere (macOS, musl) there is nothing to do.
    gc.collect()
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):  # AttributeError: not glibc
            ctypes.CDLL(None).malloc_trim(0)


def _configure_threads() -> None:
    # torch's default can be below the core count in containers. All cores for the model is right even
    # though decoding needs CPU too: decoding takes the gaps between forward passes, and leaving a core
    # to it instead measured about 0.6x the throughput on 2 cores (see benchmarks/bench_import.py).
    global _threads_configured
    if not _threads_configured:
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        _threads_configured = True
