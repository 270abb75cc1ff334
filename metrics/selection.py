"""Which namespaces a statement reads: a list of namespaces, or all but some."""

from dataclasses import dataclass

from kubemon.timeseries.schema import tag_identifier


@dataclass(frozen=True)
class Selection:
    """The namespace filter of a statement: a list of namespaces, or all but some (``None``)."""

    namespaces: tuple | None = None
    exclude: tuple = ()

    @classmethod
    def one(cls, namespace):
        return cls(namespaces=(namespace,))

    @classmethod
    def for_scope(cls, scope, exclude=()):
        """Every namespace the scope sees, less ``exclude``; an empty tuple means nothing to read.

        ``scope`` is anything with ``everything`` (bool) and ``namespaces`` (a set), such as
        ``billing.access.AccessScope``.
        """
        exclude = tuple(sorted(set(exclude)))
        if scope.everything:
            return cls(namespaces=None, exclude=exclude)
        return cls(namespaces=tuple(sorted(scope.namespaces - set(exclude))))

    @property
    def empty(self):
        return self.namespaces is not None and not self.namespaces

    def where(self, measurement, params):
        """The InfluxQL condition; adds its values to ``params``."""
        tag = tag_identifier(measurement, "namespace")
        if self.namespaces is not None:
            terms = []
            for i, name in enumerate(self.namespaces):
                params[f"ns{i}"] = name
                terms.append(f"{tag} = $ns{i}")
            return "(" + " OR ".join(terms) + ")"
        # Series without a namespace (an unattributed GPU) belong to no tenant.
        terms = [f"{tag} != ''"]
        for i, name in enumerate(self.exclude):
            params[f"ex{i}"] = name
            terms.append(f"{tag} != $ex{i}")
        return " AND ".join(terms)
