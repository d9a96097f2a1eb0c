"""The configuration shown in README.md is a real one: its TOML blocks, read together,
parse without error (a renamed or removed key would break the documentation silently)."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from printhost.config import parse_config

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_configuration_parses(tmp_path: Path) -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README.read_text(), flags=re.S)
    assert len(blocks) == 3  # the full example, cost recovery (read with it), a cluster
    cluster = parse_config(tomllib.loads(blocks[2]), base=tmp_path)
    assert cluster.storage.database_url.startswith("postgresql")
    assert cluster.server.trusted_proxies == ("10.0.0.5",)
    config = parse_config(tomllib.loads("\n".join(blocks[:2])), base=tmp_path)
    assert config.accounting.enabled
    assert [r.name for r in config.rules] == ["students-mono"]
    assert config.accounting.schedule_for("floor2-pool", "floor2-colour").rates.color.cents == 20
