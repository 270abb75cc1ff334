"""``labelSelector`` and ``fieldSelector`` with the API server's syntax and refusals.

Label selectors: ``k``, ``!k``, ``k=v``, ``k==v``, ``k!=v``, ``k in (a,b)``, ``k notin (a,b)``,
``k>3``, ``k<3``, comma-separated. Field selectors: ``f=v``, ``f==v``, ``f!=v`` on the fields the
API supports for the resource. Anything else is a 400 ``BadRequest``, as from a real server.
"""

from __future__ import annotations

import re

_NAME = re.compile(r"^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$")
_PREFIX = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")

POD_FIELDS = {
    "metadata.name",
    "metadata.namespace",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.phase",
    "status.podIP",
    "status.nominatedNodeName",
}
NODE_FIELDS = {"metadata.name", "spec.unschedulable"}
NAMESPACE_FIELDS = {"metadata.name", "status.phase"}
FIELDS = {"Pod": POD_FIELDS, "Node": NODE_FIELDS, "Namespace": NAMESPACE_FIELDS}


class SelectorError(ValueError):
    pass


def _check_key(key: str) -> None:
    if not key:
        raise SelectorError("unable to parse requirement: key must not be empty")
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or not _PREFIX.match(prefix)):
        raise SelectorError(
            f'unable to parse requirement: invalid label key "{key}": prefix part must be a '
            f"lowercase RFC 1123 subdomain"
        )
    if not _NAME.match(name):
        raise SelectorError(
            f'unable to parse requirement: invalid label key "{key}": name part must consist of '
            f"alphanumeric characters, '-', '_' or '.', and must start and end with an "
            f"alphanumeric character"
        )


def _check_value(value: str) -> None:
    if value and not _NAME.match(value):
        raise SelectorError(
            f'unable to parse requirement: invalid label value: "{value}": a valid label must be '
            f"an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
            f"start and end with an alphanumeric character"
        )


_PUNCT = {"(", ")", ",", "!", "=", "==", "!=", "<", ">"}
_TOKEN = re.compile(r"\s*(==|!=|=|!|\(|\)|,|<|>|[^\s,()=!<>]+)")


def _lex(text: str) -> list[str]:
    out = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None:
            raise SelectorError(f"unable to parse requirement: unexpected character at {pos} in {text!r}")
        out.append(m.group(1))
        pos = m.end()
    return out


def parse_labels(text: str | None):
    """A predicate over a labels dict, or None for "everything"."""
    if text is None or not text.strip():
        return None
    toks = _lex(text)
    reqs = []
    i = 0
    ops = {"=", "==", "!=", "in", "notin", "<", ">"}

    def tok(j: int) -> str | None:
        return toks[j] if j < len(toks) else None

    while True:
        if tok(i) == "!":
            key = tok(i + 1)
            if key is None or key in ops or key in _PUNCT:
                raise SelectorError("unable to parse requirement: expected a key after '!'")
            _check_key(key)
            reqs.append(("!", key, None))
            i += 2
        else:
            key = tok(i)
            if key is None or key in _PUNCT or key in ops:
                raise SelectorError(f"unable to parse requirement: found '{key}', expected: identifier")
            _check_key(key)
            op = tok(i + 1)
            if op is None or op == ",":
                reqs.append(("exists", key, None))
                i += 1
            elif op in ("=", "==", "!="):
                val = tok(i + 2)
                if val is None or val == ",":
                    val = ""
                    i += 2
                else:
                    if val in _PUNCT:
                        raise SelectorError(
                            f"unable to parse requirement: found '{val}', expected: identifier"
                        )
                    i += 3
                _check_value(val)
                reqs.append(("!=" if op == "!=" else "=", key, val))
            elif op in ("in", "notin"):
                if tok(i + 2) != "(":
                    raise SelectorError(f"unable to parse requirement: found '{tok(i + 2)}', expected: '('")
                j = i + 3
                vals = set()
                expect_value = True
                while True:
                    t = tok(j)
                    if t is None:
                        raise SelectorError("unable to parse requirement: found end of input, expected: ')'")
                    if t == ")":
                        if expect_value and vals:
                            vals.add("")
                        j += 1
                        break
                    if t == ",":
                        if expect_value:
                            vals.add("")
                        expect_value = True
                        j += 1
                        continue
                    if not expect_value:
                        raise SelectorError(f"unable to parse requirement: found '{t}', expected: ',' or ')'")
                    _check_value(t)
                    vals.add(t)
                    expect_value = False
                    j += 1
                if not vals:
                    raise SelectorError(f"unable to parse requirement: values for '{op}' must not be empty")
                reqs.append((op, key, frozenset(vals)))
                i = j
            elif op in ("<", ">"):
                val = tok(i + 2)
                try:
                    num = int(val or "")
                except ValueError:
                    raise SelectorError(
                        f"unable to parse requirement: for '{op}', '<' and '>' operators need an "
                        f"integer value, got {val!r}"
                    ) from None
                reqs.append((op, key, num))
                i += 3
            else:
                raise SelectorError(
                    f"unable to parse requirement: found '{op}', expected: in, notin, =, ==, !=, gt, lt"
                )
        if i >= len(toks):
            break
        if toks[i] != ",":
            raise SelectorError(f"unable to parse requirement: found '{toks[i]}', expected: ','")
        i += 1
        if i >= len(toks):
            raise SelectorError("unable to parse requirement: found end of input, expected: identifier")

    def match(labels: dict) -> bool:
        for op, key, val in reqs:
            have = labels.get(key)
            if op == "exists":
                if have is None:
                    return False
            elif op == "!":
                if have is not None:
                    return False
            elif op == "=":
                if have != val:
                    return False
            elif op == "!=":
                if have == val:
                    return False
            elif op == "in":
                if have is None or have not in val:
                    return False
            elif op == "notin":
                if have is not None and have in val:
                    return False
            else:
                try:
                    num = int(have) if have is not None else None
                except ValueError:
                    return False
                if num is None or (op == ">" and not num > val) or (op == "<" and not num < val):
                    return False
        return True

    return match


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, esc = [], [], False
    for ch in text:
        if esc:
            cur.append(ch)
            esc = False
        elif ch == "\\":
            esc = True
        elif ch == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return parts


def parse_fields(text: str | None, kind: str):
    """A predicate over a View's fields dict, or None for "everything"."""
    if text is None or not text.strip():
        return None
    allowed = FIELDS[kind]
    terms = []
    for term in _split_unescaped(text, ","):
        term = term.strip()
        if not term:
            raise SelectorError(f"invalid selector: '{text}'; can't understand ''")
        for op in ("!=", "==", "="):
            if op in term:
                field, _, value = term.partition(op)
                break
        else:
            raise SelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field = field.strip()
        if field not in allowed:
            raise SelectorError(
                f'"{field}" is not a known field selector: only "' + '", "'.join(sorted(allowed)) + '"'
            )
        terms.append((op != "!=", field, value.strip()))

    def match(fields: dict) -> bool:
        for eq, field, value in terms:
            if (fields.get(field, "") == value) != eq:
                return False
        return True

    return match


def node_name_of(text: str | None) -> str | None:
    """The node a ``spec.nodeName=X`` field selector pins the list to (to use the node index)."""
    if not text:
        return None
    for term in _split_unescaped(text, ","):
        term = term.strip()
        if "!=" in term:
            continue
        for op in ("==", "="):
            if op in term:
                field, _, value = term.partition(op)
                if field.strip() == "spec.nodeName" and value.strip():
                    return value.strip()
                break
    return None
