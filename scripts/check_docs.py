"""Every column of every mart is described: compares the dbt docs catalog (the columns the warehouse
really has) with the descriptions in the manifest.

    .venv/bin/python scripts/check_docs.py dbt_project/target     # after `dbt docs generate` (make docs)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

MART_SCHEMA = "marts"


def undocumented_mart_columns(manifest: dict, columns: dict[str, list[str]]) -> dict[str, list[str]]:
    """{model: [columns without a description]} for the models built into the marts schema.

    `columns` maps a model name to the columns the warehouse has for it; a model missing from it (not
    built yet) is checked on the columns its yml declares.
    """
    missing: dict[str, list[str]] = {}
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or node["schema"] != MART_SCHEMA:
            continue
        described = {
            name.lower() for name, col in node["columns"].items() if (col.get("description") or "").strip()
        }
        actual = columns.get(node["name"]) or list(node["columns"])
        undocumented = [c for c in actual if c.lower() not in described]
        if not (node.get("description") or "").strip():
            undocumented.insert(0, "(model description)")
        if undocumented:
            missing[node["name"]] = undocumented
    return missing


def catalog_columns(catalog: dict) -> dict[str, list[str]]:
    return {
        node["metadata"]["name"]: [
            c["name"] for c in sorted(node["columns"].values(), key=lambda c: c["index"])
        ]
        for node in catalog["nodes"].values()
        if node["metadata"]["schema"] == MART_SCHEMA
    }


def main(argv: list[str]) -> int:
    target = Path(argv[1] if len(argv) > 1 else "dbt_project/target")
    manifest = json.loads((target / "manifest.json").read_text())
    catalog_path = target / "catalog.json"
    columns = catalog_columns(json.loads(catalog_path.read_text())) if catalog_path.exists() else {}
    missing = undocumented_mart_columns(manifest, columns)
    for model, names in sorted(missing.items()):
        print(f"marts.{model}: no description for {', '.join(names)}", file=sys.stderr)
    if missing:
        return 1
    print(f"every mart column is described ({target / 'static_index.html'})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
