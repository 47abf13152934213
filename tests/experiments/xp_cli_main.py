"""The ``twin`` command with the toy kind registered (for tests that run the CLI in a subprocess)."""

from __future__ import annotations

from twin import models

models.KINDS["xp_toy"] = "xp_toy_model"

if __name__ == "__main__":
    from twin.cli import app

    app()
