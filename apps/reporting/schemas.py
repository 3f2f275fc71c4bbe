"""Validating MiFIR report files against the official schemas (head.003 + head.001 + auth.016).

The schemas are reference data kept outside the product (settings.MIFIR_SCHEMA_DIR); lxml
validates against one schema, so a small wrapper imports the three namespaces together.
"""

from functools import lru_cache
from pathlib import Path

from lxml import etree

from apps.reporting.builders.mifir import NS_BIZ, NS_HDR, NS_TX

SCHEMA_FILES = {
    NS_BIZ: "head.003.001.01.xsd",
    NS_HDR: "head.001.001.01_ESMAUG_1.0.0.xsd",
    NS_TX: "auth.016.001.01_ESMAUG_Reporting_1.1.0.xsd",
}


def schemas_present(directory: Path) -> bool:
    return all((Path(directory) / name).is_file() for name in SCHEMA_FILES.values())


@lru_cache(maxsize=4)
def mifir_schema(directory: str) -> etree.XMLSchema:
    imports = "".join(
        f'<xs:import namespace="{ns}" schemaLocation="{(Path(directory) / n).resolve().as_uri()}"/>'
        for ns, n in SCHEMA_FILES.items()
    )
    wrapper = f'<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema">{imports}</xs:schema>'
    return etree.XMLSchema(etree.fromstring(wrapper.encode()))


def mifir_errors(source, directory: Path) -> list[str]:
    """The schema errors of a report file (a path or a binary file); [] when it is valid."""
    schema = mifir_schema(str(directory))
    document = etree.parse(source)
    if schema.validate(document):
        return []
    return [f"line {e.line}: {e.message}" for e in schema.error_log]
