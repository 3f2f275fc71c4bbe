"""OpenAPI generation: nested serializers named after their view.

Views keep their serializers nested (`AccountListApi.OutputSerializer`), so the plain class
names collide; the component becomes `AccountListOutput` instead.
"""

from drf_spectacular import openapi


class AutoSchema(openapi.AutoSchema):
    def _get_serializer_name(self, serializer, direction, bypass_extensions=False) -> str:
        name = super()._get_serializer_name(serializer, direction, bypass_extensions)
        cls = serializer if isinstance(serializer, type) else serializer.__class__
        parts = cls.__qualname__.split(".")
        if len(parts) >= 2:
            inner = parts[-1].removesuffix("Serializer")
            outer = parts[-2].removesuffix("Api")
            if name.startswith(inner):
                name = outer + name
        return name


ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["code", "message", "details"],
            "properties": {
                "code": {"type": "string", "example": "validation_error"},
                "message": {"type": "string", "example": "Invalid input."},
                "details": {"type": "object", "additionalProperties": True},
            },
        }
    },
}
ERROR_STATUSES = {
    "400": "Invalid input (`validation_error`), or a field the endpoint does not take "
    "(`unknown_field`); nothing was stored",
    "401": "Not authenticated",
    "403": "The role does not allow it",
    "404": "Not found",
    "409": "Conflict with the current state",
    "413": "The body is larger than the server accepts (`payload_too_large`)",
    "429": "Too many attempts",
    "503": "The database could not complete the request; nothing was stored (retry)",
}


def add_error_responses(result, generator, request, public):
    """Every operation documents the one error body for the statuses it can answer with, and
    every request body says that it takes no field beyond those listed (unknown_field)."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas["Error"] = ERROR_SCHEMA
    for name, schema in schemas.items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema.setdefault("additionalProperties", False)
    ref = {"$ref": "#/components/schemas/Error"}
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            responses = operation.setdefault("responses", {})
            statuses = ["400", "401", "403", "404", "503"]
            if method in ("post", "put", "patch"):
                statuses.append("409")
            if not operation.get("security") or operation["security"] == [{}]:
                # Public: the token endpoint, whose refusals (credentials, second factor) are 401s.
                statuses = ["400", "429"] + (["401"] if method == "post" else [])
            if method in ("post", "put", "patch"):
                statuses.append("413")
            for status in statuses:
                responses.setdefault(
                    status,
                    {
                        "description": ERROR_STATUSES[status],
                        "content": {"application/json": {"schema": ref}},
                    },
                )
    return result
