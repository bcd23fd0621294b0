"""The `vfx-chain` string format for schemathesis (a generator, not a filter).

`/openapi.json` gives the `effects` input two forms: a list of step objects, whose every rule the schema
states, and a string in VideoFX's chain grammar (`posterize:levels=4 | resize:width=640`), which JSON
Schema cannot describe beyond "a string" and so marks with `format: vfx-chain`, as a custom format is
meant to be used. This file teaches schemathesis that format from the catalogue itself
(`vfx effects --json`: names, types, ranges and rules), so the chains it sends as valid are valid.
Nothing here looks at responses; every check stays as strict as schemathesis makes it.
"""
import json
import os
import subprocess

import schemathesis
from hypothesis import strategies as st

CATALOGUE = json.loads(subprocess.run([os.environ["VFX_BINARY"], "effects", "--json"], check=True,
                                      capture_output=True, text=True).stdout)
ASPECTS = ["16:9", "4:3", "1:1", "2.39", "9:16"]


def quoted(text):
    plain = text and not any(c in ",|' =\t\n" for c in text)
    return text if plain else "'" + text.replace("'", "''") + "'"


def value(parameter):
    kind = parameter["type"]
    if kind == "integer":
        return st.integers(int(parameter["min"]), int(parameter["max"])).map(str)
    if kind == "number":
        return st.floats(parameter["min"], parameter["max"], allow_nan=False, allow_infinity=False).map(repr)
    if kind == "string" and parameter.get("values"):
        return st.sampled_from(parameter["values"])
    if parameter["type"] == "aspect" or parameter["name"] == "aspect":
        return st.sampled_from(ASPECTS)
    return st.just("data:text/plain;base64,aGVsbG8=")


@st.composite
def step(draw, entry):
    params = {p["name"]: p for p in entry["parameters"]}
    chosen = {name for name in params if params[name]["required"] or draw(st.booleans())}
    for rule in entry["rules"]:
        if rule["rule"] == "excludes" and rule["parameter"] in chosen and chosen & set(rule["parameters"]):
            chosen -= set(rule["parameters"]) if draw(st.booleans()) else {rule["parameter"]}
    for rule in entry["rules"]:
        if rule["rule"] == "any_of" and not chosen & set(rule["parameters"]):
            chosen.add(draw(st.sampled_from(rule["parameters"])))
    values = {name: draw(value(params[name])) for name in sorted(chosen)}
    for rule in entry["rules"]:
        if rule["rule"] == "when_equals" and values.get(rule["parameter"]) == rule["value"]:
            for name in rule["parameters"]:
                values.setdefault(name, draw(value(params[name])))
    if not values:
        return entry["name"]
    return entry["name"] + ":" + ",".join(f"{k}={quoted(v)}" for k, v in sorted(values.items()))


CHAIN = st.lists(st.sampled_from(CATALOGUE).flatmap(step), max_size=4).map(" | ".join)
schemathesis.openapi.format("vfx-chain", CHAIN)

# `format: vfx-aspect`: a ratio W:H or a decimal, between 0.01 and 100 (what crop's aspect takes).
ASPECT = st.one_of(
    st.tuples(st.integers(1, 1000), st.integers(1, 1000)).filter(lambda t: 0.01 <= t[0] / t[1] <= 100).map(lambda t: f"{t[0]}:{t[1]}"),
    st.decimals(min_value="0.01", max_value="100", places=3).map(str),
)
schemathesis.openapi.format("vfx-aspect", ASPECT)
