"""The bodies that ask and answer (情報照会者・情報提供者): ministries, municipalities, insurers, pension bodies.

About 1,800 bodies take part in the information linkage: every municipality (1,741, each also
running National Health Insurance), the ministries, the pension bodies (Japan Pension Service and
the mutual-aid federations), the health insurers (the Japan Health Insurance Association, the 47
prefectural associations for the late-stage elderly) and the Digital Agency, which keeps the
public-benefit account register and runs Myna Portal. :func:`directory` builds them: the
municipalities from the bundled MIC statistics (``twin/data/card_issuance``), the others from the
list below. A body's id is short and stable (``muni:131016`` is Chiyoda ward, by its 団体コード
as printed in MIC's table).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from twin.population.statistics import load_snapshot


class BodyKind(StrEnum):
    MINISTRY = "ministry"
    MUNICIPALITY = "municipality"
    INSURER = "insurer"
    PENSION = "pension"
    ACCOUNT_REGISTER = "account_register"  # the Digital Agency as keeper of 公金受取口座
    PORTAL = "portal"  # Myna Portal (情報提供等記録開示システム), run by the Digital Agency


@dataclass(frozen=True, slots=True)
class Body:
    id: str
    kind: BodyKind
    name: str
    number: int  # row in the directory; the code issuer packs it into codes


# The bodies other than municipalities (names as the bodies publish them).
NATIONAL: tuple[tuple[str, BodyKind, str], ...] = (
    ("mhlw", BodyKind.MINISTRY, "厚生労働省"),
    ("mic", BodyKind.MINISTRY, "総務省"),
    ("cfa", BodyKind.MINISTRY, "こども家庭庁"),
    ("jps", BodyKind.PENSION, "日本年金機構"),
    ("kkr", BodyKind.PENSION, "国家公務員共済組合連合会"),
    ("chikyoren", BodyKind.PENSION, "地方公務員共済組合連合会"),
    ("kyokai", BodyKind.INSURER, "全国健康保険協会"),
    ("digital", BodyKind.ACCOUNT_REGISTER, "デジタル庁 (公金受取口座登録簿)"),
    ("portal", BodyKind.PORTAL, "マイナポータル (デジタル庁)"),
)


class Directory:
    """All bodies by id, with their numbers (for the code issuer)."""

    def __init__(self, bodies: list[Body]) -> None:
        self.bodies = tuple(bodies)
        self._by_id = {b.id: b for b in bodies}
        if len(self._by_id) != len(bodies):
            raise ValueError("directory: two bodies share an id")

    def __len__(self) -> int:
        return len(self.bodies)

    def __contains__(self, body: object) -> bool:
        return body in self._by_id

    def get(self, body: str) -> Body | None:
        return self._by_id.get(body)

    def number(self, body: str) -> int | None:
        b = self._by_id.get(body)
        return None if b is None else b.number

    def of_kind(self, kind: BodyKind) -> list[Body]:
        return [b for b in self.bodies if b.kind is kind]


def municipality_id(code: int) -> str:
    """Body id of a municipality from its 団体コード as the statistics print it (11002 -> ``muni:011002``)."""
    return f"muni:{int(code):06d}"


def directory(snapshot: str = "20200401") -> Directory:
    """The national bodies, the 47 late-stage elderly associations and every municipality of ``snapshot``."""
    snap = load_snapshot(snapshot)
    rows: list[tuple[str, BodyKind, str]] = list(NATIONAL)
    rows += [(f"kouki:{i + 1:02d}", BodyKind.INSURER, f"{name}後期高齢者医療広域連合")
             for i, name in enumerate(snap.prefecture_name)]  # fmt: skip
    munis = zip(snap.muni_code.tolist(), snap.muni_name, snap.muni_prefecture_name, strict=True)
    rows += [(municipality_id(c), BodyKind.MUNICIPALITY, f"{p}{n}") for c, n, p in munis]
    return Directory([Body(i, k, n, number) for number, (i, k, n) in enumerate(rows)])
