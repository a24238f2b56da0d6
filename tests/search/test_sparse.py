"""Keyword tokens: other forms of a word meet at its stem; identifiers still match exactly."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from contextql.graph.embeddings.sparse import document_vector, query_vector, tokens


def _matches(query: str, text: str) -> set[int]:
    return set(query_vector(query)[0]) & set(document_vector(text)[0])


def test_word_forms_share_a_stem():
    assert tokens("rotating") == tokens("rotates") == tokens("rotate")
    assert _matches("how do we rotate keys?", "Rotating the API keys every 90 days")


def test_identifiers_are_kept_whole_and_unstemmed():
    found = tokens("Raised as ERR_KEY_42 by os.path.join and rotate_api_keys")
    assert {"err_key_42", "os.path.join", "rotate_api_keys"} <= set(found)
    # The exact identifier is a token of its own, so it outweighs texts that only share its parts.
    exact = _matches("rotate_api_keys", "call rotate_api_keys nightly")
    parts = _matches("rotate_api_keys", "rotate the api keys nightly")
    assert parts < exact


def test_stemming_is_safe_across_threads():
    texts = [f"running runners ran {i} connections connected" for i in range(200)]
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(tokens, texts))
    assert all(r[:2] == ["run", "runner"] for r in results)
