"""The synthetic nation against the statistics it was built from. (placeholder: being built)"""
from __future__ import annotations
from twin.config import StrictModel
from twin.metrics import Metrics
from twin.report import Paragraph, Section
from twin.runs import ModelResult, RunContext

class Params(StrictModel):
    pass

def run(ctx: RunContext) -> ModelResult:
    m = Metrics()
    m.add("x", 1.0)
    return ModelResult(m, {"x": 1}, [Section("Nation", [Paragraph("placeholder")])])
