"""base.DepthGuard and iter_json_array's depth bound: exact JSON nesting, strings and escapes
tracked across chunks, and the byte where a document goes too deep."""

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hygiene.importers.base import MAX_JSON_DEPTH, DepthGuard, ImportFormatError, iter_json_array

CHUNK = 65536  # iter_json_array's reads


def elements(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> list:
    return [obj for _, obj in iter_json_array(io.BytesIO(data), max_depth=max_depth)]


def too_deep(data: bytes, max_depth: int = MAX_JSON_DEPTH) -> ImportFormatError:
    with pytest.raises(ImportFormatError) as info:
        elements(data, max_depth)
    return info.value


@pytest.mark.parametrize("chunk", [1, 2, 3, 7, 64, 65536])
def test_depth_guard_tracks_strings_and_escapes_across_chunks(chunk):
    nested = json.dumps([{"a": '[[[{{{\\"]]]', "b": ["\\\\", ["x"]], "c": "\\"}] * 3)
    guard = DepthGuard(io.BytesIO(nested.encode()), max_depth=4)
    while guard.read(chunk):
        pass
    assert guard.depth == 0
    deep = DepthGuard(io.BytesIO(b'["\\"[[[[[[", ' + b"[" * 10), max_depth=8)
    with pytest.raises(ImportFormatError, match="nested deeper than 8"):
        while deep.read(chunk):
            pass


def _depth(value) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth, value.values()), default=0)
    return 0


def test_unbalanced_brackets_in_strings_are_not_nesting():
    # Each element leaves brackets open inside a string: counted, they used to read as 10,000
    # levels and more.
    values = [f'x = cfg["k{i}"] || [' for i in range(5000)] + ["{ [ \\ ["] * 5000
    data = json.dumps(values).encode()
    assert len(data) > 2 * CHUNK
    assert elements(data) == values
    assert elements(data, max_depth=1) == values  # the array itself is the only level


# Strings whose escapes and quotes can meet the end of a read: escaped quotes before brackets,
# escaped backslashes before a closing quote, a \u escape, quotes right after escapes.
BOUNDARY_CASES = [
    '["\\"[[[[[[[[", "\\\\", [["\\\\\\"{{{{"]], "]]]]\\\\"]',
    '[{"a": "\\\\\\\\\\"[[[[", "b": ["\\\\"]}, "\\u005b\\"[[[["]',
    '["\\\\", ["\\\\\\\\"], "\\"\\"[\\"", [[["\\\\"]]]]',
]


@pytest.mark.parametrize("text", BOUNDARY_CASES)
def test_escaped_quotes_and_backslashes_at_every_chunk_boundary(text):
    # Each byte of the elements ends the first 64 KB read in turn. A quote or backslash taken
    # on the wrong side of an escape would count the brackets in strings (too deep for a limit
    # of the document's own depth) or miss real ones (not too deep for one less).
    expected = json.loads(text)
    depth = _depth(expected)
    body = text.encode()[1:]  # the elements, after the array's '['
    for end in range(len(body) + 1):
        filler = "x" * (CHUNK - len(b'["", ') - end)
        data = b'["' + filler.encode() + b'", ' + body
        assert data[CHUNK - end : CHUNK] == body[:end]
        assert elements(data, max_depth=depth) == [filler, *expected]
        err = too_deep(data, max_depth=depth - 1)
        assert err.message == f"JSON nested deeper than {depth - 1} levels"
        assert data[int(err.location.removeprefix("near byte ")) :][:1] in (b"[", b"{")


def test_deep_nesting_is_refused_at_its_byte():
    err = too_deep(b"[" * 100_000)
    assert err.message == f"JSON nested deeper than {MAX_JSON_DEPTH} levels"
    assert err.location == f"near byte {MAX_JSON_DEPTH}"  # the 2,049th '['
    # After many chunks of strings holding brackets: the byte of the first bracket too many.
    prefix = b"[" + b'"[[\\"{", ' * 30_000 + b'{"a": '
    data = prefix + b"[" * 5000
    assert len(prefix) > 3 * CHUNK
    err = too_deep(data)
    assert err.location == f"near byte {len(prefix) + MAX_JSON_DEPTH - 2}"
    assert str(err) == f"{err.location}: JSON nested deeper than {MAX_JSON_DEPTH} levels"
    err = too_deep(data, max_depth=64)
    assert err.location == f"near byte {len(prefix) + 62}"


def test_the_limit_is_the_depth_itself():
    doc = b"[" * 10 + b"]" * 10
    assert elements(doc, max_depth=10) == [[[[[[[[[[]]]]]]]]]]
    assert too_deep(doc, max_depth=9).location == "near byte 9"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(alphabet='[]{}"\\/ab\n\u00e9', max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet='[]{}"\\k', max_size=4), inner, max_size=4)
    ),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(json_values, st.booleans(), st.integers(min_value=1, max_value=9))
def test_the_depth_is_the_json_nesting(value, ascii_only, chunk):
    data = json.dumps(value, ensure_ascii=ascii_only).encode()
    depth = _depth(value)
    guard = DepthGuard(io.BytesIO(data), max_depth=depth)
    while guard.read(chunk):
        pass
    assert (guard.depth, guard.in_string, guard.escape, guard.pos) == (0, False, False, len(data))
    if depth:
        guard = DepthGuard(io.BytesIO(data), max_depth=depth - 1)
        with pytest.raises(ImportFormatError) as info:
            while guard.read(chunk):
                pass
        at = int(info.value.location.removeprefix("near byte "))
        assert data[at : at + 1] in (b"[", b"{")


@settings(max_examples=300, deadline=None)
@given(
    st.binary(max_size=200).map(
        lambda b: b.translate(bytes(b'"\\[]{},a'[i % 8] for i in range(256)))
    ),
    st.integers(min_value=1, max_value=9),
    st.integers(min_value=0, max_value=6),
)
def test_the_chunked_scan_and_the_byte_walk_agree(data, chunk, max_depth):
    # Any bytes, not only JSON: the error's byte is found by the walk wherever the scan
    # finds the depth exceeded, and json_array_cut walks on from where the scan stopped.
    steps = list(DepthGuard(io.BytesIO(), max_depth=max_depth).walk(data))
    first_too_deep = next((i for i, _, d in steps if d > max_depth), None)
    guard = DepthGuard(io.BytesIO(), max_depth=max_depth)
    try:
        for start in range(0, len(data), chunk):
            guard.scan(data[start : start + chunk])
    except ImportFormatError as exc:
        assert exc.location == f"near byte {first_too_deep}"
    else:
        assert first_too_deep is None
        assert guard.depth == (steps[-1][2] if steps else 0)
