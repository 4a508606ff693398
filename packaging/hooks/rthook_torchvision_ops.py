"""PyInstaller runtime hook, included only in bundles whose torchvision native library cannot load.

PyPI's Linux torchvision wheels are built against CUDA torch, so beside a CPU-only torch their ``_C``
library fails to load (it needs libtorch_cuda) and the spec leaves it out. torchvision then still imports
everything except that, but two of its fake-tensor registrations name ``torchvision::nms`` and
``torchvision::qnms`` unconditionally, and registering against an undefined operator raises ("operator
torchvision::nms does not exist"), which makes ``import torchvision`` (and so open_clip) fail.

Declaring the two operator schemas (no kernels) lets that import succeed. Photoseek never calls them
(open_clip uses torchvision only for image transforms); a call would fail with "no kernel registered",
which is the truth. Bundles built from PyTorch's CPU index have a working ``_C`` and no such hook.
The torch import happens only when something imports torchvision, so ``photoseek --version`` stays fast.
"""

import importlib.abc
import sys

_TORCHVISION_OP_SCHEMAS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
)
_keep_alive = []  # a torch.library.Library drops its definitions when garbage-collected


class _DeclareTorchvisionOps(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torchvision":
            return None
        sys.meta_path.remove(self)
        import torch

        library = torch.library.Library("torchvision", "DEF")
        for schema in _TORCHVISION_OP_SCHEMAS:
            library.define(schema)
        _keep_alive.append(library)
        return None  # the ordinary finders import torchvision itself


sys.meta_path.insert(0, _DeclareTorchvisionOps())
