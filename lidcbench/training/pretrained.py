"""ImageNet weights fetched on request (``--set pretrained=download``).

A run never downloads by default. With ``pretrained=download`` weights that
timm's local cache (the Hugging Face hub cache) already holds are used as
they are; otherwise timm downloads them into that cache. Without a network
that is a one-line error within seconds, not a minute of retries.
"""
from __future__ import annotations

import socket
from urllib.parse import urlparse

import torch

from lidcbench.errors import LidcbenchError

CONNECT_TIMEOUT_S = 5.0


def cached_weights(model_name: str) -> str | None:
    """The weights file of ``model_name``'s default ImageNet tag in the hub cache, if present."""
    import timm
    from huggingface_hub import try_to_load_from_cache

    config = timm.models.get_pretrained_cfg(model_name)
    if config is None or not getattr(config, "hf_hub_id", None):
        return None
    for filename in ("model.safetensors", "pytorch_model.bin"):
        found = try_to_load_from_cache(config.hf_hub_id, filename)
        if isinstance(found, str):
            return found
    return None


def download_backbone(model_name: str) -> tuple[torch.nn.Module, str]:
    """timm's ``model_name`` with ImageNet weights from the cache, downloading them when absent."""
    import timm

    config = timm.models.get_pretrained_cfg(model_name)
    if config is None or not getattr(config, "hf_hub_id", None):
        raise LidcbenchError(f"timm publishes no downloadable ImageNet weights for {model_name}; "
                             "use pretrained=none or pretrained=PATH.")
    cached = cached_weights(model_name)
    if cached is None:
        _check_network()
    try:
        model = timm.create_model(model_name, pretrained=True, num_classes=0, in_chans=1)
    except (OSError, RuntimeError, ValueError) as error:  # huggingface_hub's errors derive from these
        reason = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise LidcbenchError(f"could not download the ImageNet weights of {model_name} ({reason}); "
                             "run without pretrained=download, or put the weights in timm's cache.") from None
    path = cached or cached_weights(model_name) or "timm's cache"
    return model, f"imagenet ({path}{'' if cached else ', downloaded'})"


def _check_network() -> None:
    """Fail at once when the hub timm downloads from cannot be reached."""
    from huggingface_hub import constants

    endpoint = urlparse(constants.ENDPOINT)
    if constants.HF_HUB_OFFLINE:
        raise LidcbenchError("pretrained=download, but HF_HUB_OFFLINE is set; unset it, or use pretrained=auto.")
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as error:
        raise LidcbenchError(f"pretrained=download needs a network, but {endpoint.hostname} cannot be reached "
                             f"({error.strerror or error}); run without it (weights from timm's cache if there, "
                             "else random) or pass pretrained=PATH.") from None
