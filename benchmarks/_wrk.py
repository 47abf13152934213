"""wrk, the HTTP benchmarking tool (Debian package), driven from the benchmarks: scripts, runs, figures.

``wrk`` is a closed-model load generator: each connection sends its next request when the last
answer arrived, so under overload its percentiles are those of a saturated server.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

WRK = shutil.which("wrk")


def lua_post(path: Path, body: bytes, content_type: str = "application/ocsp-request") -> Path:
    escaped = "".join(f"\\{b}" for b in body)
    path.write_text(f'wrk.method = "POST"\nwrk.body = "{escaped}"\nwrk.headers["Content-Type"] = "{content_type}"\n')
    return path


def wrk(url: str, script: Path | None = None, seconds: int = 5, connections: int = 32) -> dict[str, float]:
    cmd = [WRK, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script is not None:
        cmd[1:1] = ["-s", str(script)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    assert done.returncode == 0, f"wrk failed: {done.stdout} {done.stderr}"
    out = done.stdout
    figures = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}  # type: ignore[union-attr]
    for q in ("50", "90", "99"):
        m = re.search(rf"\s{q}%\s+([\d.]+)(us|ms|s)\b", out)
        value = float(m.group(1)) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[m.group(2)]  # type: ignore[union-attr]
        figures[f"p{q}_ms"] = value
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    figures["non_2xx"] = float(errors.group(1)) if errors else 0.0
    return figures


def record(benchmark, name: str, figures: dict[str, float]) -> None:
    benchmark.extra_info.update(figures)
    print(
        f"\n{name}: {figures['rps']:,.0f}/s p50 {figures['p50_ms']:.2f} ms p90 {figures['p90_ms']:.2f} ms "
        f"p99 {figures['p99_ms']:.2f} ms non-2xx {figures['non_2xx']:.0f}"
    )


def lua_bodies(path: Path, url_path: str, bodies: list[str]) -> Path:
    """A wrk script sending ``bodies`` (one JSON per line of a side file) in turn."""
    data = path.with_suffix(".jsonl")
    data.write_text("\n".join(bodies) + "\n")
    path.write_text(
        f'local bodies = {{}}\nfor line in io.lines("{data}") do bodies[#bodies + 1] = line end\n'
        "local i = 0\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
        "request = function()\n  i = i % #bodies + 1\n"
        f'  return wrk.format("POST", "{url_path}", nil, bodies[i])\nend\n'
    )
    return path
