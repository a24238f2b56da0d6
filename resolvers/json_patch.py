"""`patchData`: RFC 6902 JSON Patch on a context's data, applied to the head inside its write."""

from __future__ import annotations

from typing import Any

import jsonpatch
import jsonpointer

from contextql.graph.errors import BadUserInputError, ConflictError

MAX_OPERATIONS = 1_000


def json_patch(operations: Any) -> jsonpatch.JsonPatch:
    """A parsed patch, or `BadUserInputError` saying what is wrong with it."""
    if not isinstance(operations, list) or not all(isinstance(op, dict) for op in operations):
        raise BadUserInputError("`patchData` must be a list of JSON Patch operations (RFC 6902), "
                                "e.g. [{\"op\": \"replace\", \"path\": \"/owner\", \"value\": \"ana\"}].")
    if len(operations) > MAX_OPERATIONS:
        raise BadUserInputError(f"At most {MAX_OPERATIONS} `patchData` operations.", limit=MAX_OPERATIONS)
    try:
        patch = jsonpatch.JsonPatch(operations)  # parses and checks every operation
    except (jsonpatch.InvalidJsonPatch, jsonpointer.JsonPointerException, KeyError, TypeError) as exc:
        raise BadUserInputError(f"Invalid `patchData`: {exc}.") from None
    return patch


def apply_json_patch(path: str, data: dict[str, Any], patch: jsonpatch.JsonPatch) -> dict[str, Any]:
    """`data` with `patch` applied; a failed `test` is a CONFLICT, an impossible operation bad input."""
    try:
        result = patch.apply(data)
    except jsonpatch.JsonPatchTestFailed as exc:
        raise ConflictError(f"{path}: a `test` operation of `patchData` failed ({exc}); re-read and retry.",
                            paths=[path]) from None
    except (jsonpatch.JsonPatchConflict, jsonpatch.JsonPatchException, jsonpointer.JsonPointerException) as exc:
        raise BadUserInputError(f"`patchData` cannot be applied to {path}: {exc}.") from None
    if not isinstance(result, dict):
        raise BadUserInputError("`patchData` must leave `data` a JSON object.")
    return result
