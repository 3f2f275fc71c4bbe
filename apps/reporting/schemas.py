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


TRANSACTION = f"{{{NS_TX}}}Tx"
REPORT = f"{{{NS_TX}}}FinInstrmRptgTxRpt"


def mifir_errors(source, directory: Path) -> list[str]:
    """The schema errors of a report file (a path or a binary file); [] when it is valid.

    The file is validated as it is parsed, and each transaction is dropped once read, so that
    memory does not grow with the file (a day's file holds hundreds of thousands)."""
    schema = mifir_schema(str(directory))
    try:
        for _event, element in etree.iterparse(source, tag=TRANSACTION, schema=schema):
            parent = element.getparent()
            if parent is not None and parent.tag == REPORT:
                element.clear()
                while element.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        errors = [f"line {e.line}: {e.message}" for e in exc.error_log]
        return errors or [str(exc)]
    return []
