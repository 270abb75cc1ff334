from datetime import datetime

_cache = {}


def epoch_seconds(text):
    """Seconds since the epoch (int) of an RFC 3339 time such as ``2019-11-20T13:38:41Z``.

    Kubelet times repeat across the containers of a node, so parsed values are cached.
    """
    try:
        return _cache[text]
    except KeyError:
        pass
    value = int(datetime.fromisoformat(text).timestamp())
    if len(_cache) > 50_000:
        _cache.clear()
    _cache[text] = value
    return value
