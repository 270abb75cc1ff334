"""Small helpers that read the environment.

Every setting is read once, in ``kubemon/settings.py``, through these helpers. Secrets also
accept a ``NAME_FILE`` variant because Kubernetes Secrets and Docker secrets are mounted as
files; the file wins over the plain variable so that a secret never has to sit in the
process environment.
"""

import os

from django.core.exceptions import ImproperlyConfigured


def env_str(name, default=""):
    file_path = os.environ.get(f"{name}_FILE")
    if file_path:
        try:
            with open(file_path, encoding="utf-8") as f:
                return f.read().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE={file_path} cannot be read: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = env_str(name, "")
    if value == "":
        return default
    lowered = value.lower()
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise ImproperlyConfigured(f"{name}={value!r} is not a boolean (use true or false)")


def env_int(name, default):
    value = env_str(name, "")
    if value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not an integer") from None


def env_float(name, default):
    value = env_str(name, "")
    if value == "":
        return default
    try:
        return float(value)
    except ValueError:
        raise ImproperlyConfigured(f"{name}={value!r} is not a number") from None


def env_list(name, default=()):
    value = env_str(name, "")
    if value == "":
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]
