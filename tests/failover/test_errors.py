"""Bad topologies are refused with the file, the field, the value and what is allowed."""

from __future__ import annotations

import pytest

from twin.errors import InputError
from twin.scenario import loads

HEAD = "name: t\nkind: failover\n"


def error_of(body: str) -> str:
    with pytest.raises(InputError) as e:
        loads(HEAD + body, "t.yaml")
    return str(e.value)


def test_unknown_service_in_a_dependency() -> None:
    msg = error_of("params:\n  services:\n    payout: {depends_on: [{service: portal}]}\n")
    assert msg == (
        "t.yaml: params.services.payout.depends_on[0].service: 'portal' is not a service (known: card_issuance, "
        "card_management, eligibility, info_network, intermediate_servers, jpki_ca, jpki_ocsp, jukinet, myna_portal, "
        "payout, relay_servers, shared_line)"
    )


def test_negative_mttr() -> None:
    msg = error_of("params:\n  services:\n    jukinet: {failure: {mttr_hours: -2}}\n")
    assert msg == "t.yaml: params.services.jukinet.failure.mttr_hours: -2 is not in (0, inf)"


def test_cycle_in_hard_dependencies() -> None:
    msg = error_of("params:\n  services:\n    jukinet: {depends_on: [{service: card_management}]}\n")
    assert msg == (
        "t.yaml: params.services.jukinet.depends_on: hard dependencies form a cycle: "
        "jukinet -> card_management -> jukinet"
    )


def test_a_soft_loop_is_allowed_but_a_hard_self_dependency_is_not() -> None:
    soft = "{depends_on: [{service: eligibility, kind: soft, share: 0.1}]}"
    loads(HEAD + f"params:\n  services:\n    jpki_ocsp: {soft}\n")
    msg = error_of("params:\n  services:\n    jukinet: {depends_on: [{service: jukinet}]}\n")
    assert msg == "t.yaml: params.services.jukinet.depends_on: hard dependencies form a cycle: jukinet -> jukinet"


def test_unknown_site_and_standby_without_a_second_site() -> None:
    assert error_of("params:\n  services:\n    payout: {sites: [east, osaka]}\n") == (
        "t.yaml: params.services.payout.sites[1]: 'osaka' is not a site (known: east, west)"
    )
    assert error_of("params:\n  services:\n    payout: {sites: [east]}\n") == (
        "t.yaml: params.services.payout.sites: a list of 1 item has one site but deployment 'hot' needs two "
        "(primary, standby); use deployment 'single' for one site"
    )


def test_unknown_deployment_mode_and_injected_target() -> None:
    assert error_of("params:\n  services:\n    payout: {deployment: lukewarm}\n") == (
        "t.yaml: params.services.payout.deployment: 'lukewarm' is not one of: "
        "'single', 'cold', 'warm', 'hot' or 'active_active'"
    )
    msg = error_of("params:\n  injected: [{target: osaka, start: 2025-01-01T00:00:00}]\n")
    assert msg.startswith("t.yaml: params.injected[0].target: 'osaka' is not a service or site (known: ")


def test_option_errors_name_the_option() -> None:
    msg = error_of("options:\n  - name: a\n    params: {services: {payout: {failure: {mtbf_hours: 0}}}}\n")
    assert msg == "t.yaml: options[0].params.services.payout.failure.mtbf_hours: 0 is not in (0, inf)"
