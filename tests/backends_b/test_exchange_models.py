"""The exchange record (情報提供等記録) has one response model, shared by the linkage API and the portal hub.

The two servers used to mirror ``twin.services.linkage.ExchangeRecord`` in two hand-written models; these
tests pin what each API returns for a record (the JSON did not change when they were merged) and that a
field added to the record cannot silently go missing from the linkage API's answer."""

from __future__ import annotations

import dataclasses
import datetime as dt

from real_backends.app import ExchangeOut, ExchangeRecordOut
from twin.services.linkage import ExchangeRecord

RECORD = ExchangeRecord(id=7, at=dt.datetime(2025, 7, 1, 9, tzinfo=dt.timezone(dt.timedelta(hours=9))),
                        requester="muni:131016", provider="jps", procedure="public_assistance", item="pension",
                        found=True, copy_as_of=dt.date(2025, 4, 1))  # fmt: skip
SHOWN = {"id": 7, "at": "2025-07-01T09:00:00+09:00", "requester": "muni:131016", "provider": "jps",
         "procedure": "public_assistance", "item": "pension", "found": True}  # fmt: skip


def test_the_linkage_record_carries_every_field_of_the_exchange_record() -> None:
    fields = [f.name for f in dataclasses.fields(ExchangeRecord)]
    assert list(ExchangeRecordOut.model_fields) == fields
    assert list(ExchangeOut.model_fields) == [f for f in fields if f != "copy_as_of"]


def test_each_api_renders_a_record_as_before() -> None:
    assert ExchangeOut.of(RECORD).model_dump(mode="json") == SHOWN  # GET /portal/me/exchanges
    assert ExchangeRecordOut.of(RECORD).model_dump(mode="json") == {**SHOWN, "copy_as_of": "2025-04-01"}
    missing = dataclasses.replace(RECORD, found=False, copy_as_of=None)
    assert ExchangeRecordOut.of(missing).model_dump(mode="json") == {**SHOWN, "found": False, "copy_as_of": None}


def _items_ref(openapi: dict, path: str) -> str:
    schema = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    return schema["items"]["$ref"]


def test_both_servers_answer_with_the_shared_models() -> None:
    from real_backends.linkage_api import serve_app as linkage_app
    from real_backends.portal_hub import serve_app as portal_app

    linkage = linkage_app("memory://", people="8").openapi()
    assert _items_ref(linkage, "/linkage/records/{portal_code}") == "#/components/schemas/ExchangeRecordOut"
    portal = portal_app("memory://").openapi()
    assert _items_ref(portal, "/portal/me/exchanges") == "#/components/schemas/ExchangeOut"
    for doc, name in ((linkage, "ExchangeRecordOut"), (portal, "ExchangeOut")):
        model = ExchangeRecordOut if name == "ExchangeRecordOut" else ExchangeOut
        assert doc["components"]["schemas"][name]["required"] == list(model.model_fields)
