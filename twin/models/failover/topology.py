"""The dependency graph of the central services, and its sanity checks.

When the OCSP responder stops, Myna Portal cannot log anyone in (a hard dependency: the portal is
down), while online eligibility confirmation goes on for the 89 % of checks made with an insurance
number and fails only the card-based ones (a soft dependency: degraded). The graph here is a
networkx ``DiGraph`` with an edge ``service -> dependency`` per call, carrying ``kind`` (hard or
soft) and ``share`` (the share of requests that need the dependency); site nodes (data centres)
are linked to the services they host. Hard dependencies must not form a cycle: a service cannot
be up only if it is itself up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx

if TYPE_CHECKING:
    from twin.models.failover.params import Params


def _field_error(field: str, value: object, message: str) -> Exception:
    from twin.scenario import _FieldError

    return _FieldError(field, value, message)


def check_topology(params: Params) -> None:
    """Raise a field error naming the first problem: unknown service or site, bad deployment, cycle."""
    names = list(params.services)
    known = ", ".join(sorted(names))
    sites = ", ".join(sorted(params.sites))
    if not params.sites:
        raise _field_error("sites", None, "must name at least one site (data centre)")
    for name, svc in params.services.items():
        for i, dep in enumerate(svc.depends_on):
            if dep.service not in params.services:
                raise _field_error(
                    f"services.{name}.depends_on[{i}].service", dep.service, f"is not a service (known: {known})"
                )
        for i, site in enumerate(svc.sites):
            if site not in params.sites:
                raise _field_error(f"services.{name}.sites[{i}]", site, f"is not a site (known: {sites})")
        if not svc.sites:
            raise _field_error(f"services.{name}.sites", None, "must name at least one site (the primary)")
        if len(set(svc.sites)) != len(svc.sites):
            raise _field_error(f"services.{name}.sites", svc.sites, "names a site twice")
        if svc.deployment != "single" and len(svc.sites) < 2:
            raise _field_error(
                f"services.{name}.sites",
                svc.sites,
                f"has one site but deployment '{svc.deployment}' needs two (primary, standby); "
                "use deployment 'single' for one site",
            )
    hard = nx.DiGraph()
    hard.add_nodes_from(names)
    hard.add_edges_from(
        (name, d.service) for name, svc in params.services.items() for d in svc.depends_on if d.kind == "hard"
    )
    try:
        cycle = nx.find_cycle(hard)
    except nx.NetworkXNoCycle:
        cycle = None
    if cycle:
        path = " -> ".join([cycle[0][0]] + [v for _, v in cycle])
        raise _field_error(f"services.{cycle[0][0]}.depends_on", None, f"hard dependencies form a cycle: {path}")
    for name, link in params.links.items():
        for i, site in enumerate(link.between):
            if site not in params.sites:
                raise _field_error(f"links.{name}.between[{i}]", site, f"is not a site (known: {sites})")
        if link.between[0] == link.between[1]:
            raise _field_error(f"links.{name}.between", list(link.between), "joins a site to itself")
    targets = sorted([*names, *params.sites])
    for i, inj in enumerate(params.injected):
        if inj.target not in params.services and inj.target not in params.sites:
            raise _field_error(
                f"injected[{i}].target", inj.target, f"is not a service or site (known: {', '.join(targets)})"
            )
        if inj.kind == "site_loss" and inj.target not in params.sites:
            raise _field_error(f"injected[{i}].target", inj.target, f"a site_loss needs a site (known: {sites})")
        if inj.kind != "site_loss" and inj.target not in params.services:
            raise _field_error(
                f"injected[{i}].target", inj.target, f"a {inj.kind} fault needs a service (known: {known})"
            )
    for i, s in enumerate(params.demand.surges):
        if s.end <= s.start:
            raise _field_error(
                f"demand.surges[{i}].end", s.end.isoformat(), f"is not after start {s.start.isoformat()}"
            )


def build_graph(params: Params) -> nx.DiGraph:
    """Services, sites and their edges: ``service -> dependency`` (kind, share), ``site -> service`` (hosts)."""
    g = nx.DiGraph()
    for name, site in params.sites.items():
        g.add_node(name, type="site", title=site.title)
    for name, svc in params.services.items():
        g.add_node(name, type="service", title=svc.title, deployment=svc.deployment)
    for name, svc in params.services.items():
        for d in svc.depends_on:
            g.add_edge(name, d.service, type="depends", kind=d.kind, share=d.share if d.kind == "soft" else 1.0)
        for rank, site in enumerate(svc.sites):
            g.add_edge(site, name, type="hosts", role="primary" if rank == 0 else "standby")
    return g


def dependency_order(params: Params) -> list[str]:
    """Services ordered so that every service comes after all its dependencies (hard and soft).

    Soft edges that would close a cycle are ignored for ordering (a soft dependency only degrades).
    """
    g = nx.DiGraph()
    g.add_nodes_from(params.services)
    for name, svc in params.services.items():
        for d in svc.depends_on:
            if d.kind == "hard":
                g.add_edge(d.service, name)
    for name, svc in params.services.items():
        for d in svc.depends_on:
            if d.kind == "soft" and not nx.has_path(g, name, d.service):
                g.add_edge(d.service, name)
    return list(nx.lexicographical_topological_sort(g))
