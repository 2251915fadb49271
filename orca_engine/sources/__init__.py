"""Source proxies and their cached features: the body's own modality, as its embedding layer sees it.

    SOURCE_PROXIES            registry of ProxySpec(name, kind, description, offline, load(n, seed))
    default_proxy(kind, offline) -> str                       what align.source_proxy = "auto" means
    source_features(backbone, proxy, n, seed, cache_dir, batch_size) -> (features, labels, info)

Torch is imported only when features are computed, so importing this package stays light.
"""
from .features import default_cache_dir, source_features
from ..hub import hub_reachable
from .proxies import SOURCE_PROXIES, ProxySpec, default_proxy, proxy_choices

__all__ = ["SOURCE_PROXIES", "ProxySpec", "default_proxy", "proxy_choices", "source_features",
           "default_cache_dir", "hub_reachable"]
