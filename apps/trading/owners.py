"""Beneficial owners' names as they are compared: one person or firm written two ways ("Nadia
Petrov", "Petrov, Nadia", "NADIA  PETROV") is one owner.

Pure functions: the owner services and the migration that turned the free-text names into
owners use the same ones.
"""

# Legal forms that follow a firm's name after a comma ("Acme, Inc."): such a name is not a
# person's "Last, First" and keeps its order.
LEGAL_FORMS = frozenset(
    {
        "ab", "ag", "as", "asa", "bv", "co", "corp", "corporation", "gmbh", "inc",
        "incorporated", "kg", "kgaa", "lp", "llc", "llp", "ltd", "limited", "nv", "oy", "plc",
        "pte", "pty", "sa", "sarl", "se", "spa", "srl", "vvag",
    }
)  # fmt: skip


def owner_name_normalised(name: str) -> str:
    """The name as stored: runs of whitespace made one space, and a person's "Last, First"
    turned into "First Last" (not a firm's "Name, Inc.")."""
    text = " ".join(str(name).split())
    if text.count(",") == 1:
        last, first = (part.strip() for part in text.split(","))
        words = {w.replace(".", "").casefold() for w in first.split()}
        if last and first and not words & LEGAL_FORMS:
            text = f"{first} {last}"
    return text


def owner_name_key(name: str) -> str:
    """What two names must share to be one owner: the normalised name, case folded."""
    return owner_name_normalised(name).casefold()
