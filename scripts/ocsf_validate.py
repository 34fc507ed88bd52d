#!/usr/bin/env python3
"""Offline validator for OCSF events (egresswatch's OCSF output).

Validates each event against the OCSF JSON Schema bundled in the `ocsf-json-schema` package
(exports of schema.ocsf.io, 1.0.0-rc.2 .. 1.8.0; no network access), for the event's class and
the profiles it declares in metadata.profiles, then adds the rules JSON Schema cannot express:

  * type_uid == class_uid * 100 + activity_id
  * category_uid is the class's category
  * class_name, activity_name, type_name, severity, status match their ids' captions
  * --expect-class N: class_uid is N
  * --require-profile P: P is declared in metadata.profiles (so dropping both the profile and
    its object, e.g. `cloud`, is caught too); declared profiles must exist for the class.

usage: ocsf_validate.py [--ocsf-version 1.8.0] [--expect-class 2004] [--require-profile cloud]
                        FILE... ('-' reads standard input)
A FILE holds one JSON object, a JSON array of objects, or JSON lines.
Exit status: 0 every event valid, 1 any event invalid, 2 usage or input error.
Set up the packages with scripts/setup_validators.sh.
"""
import argparse
import functools
import json
import sys

try:
    from jsonschema import Draft202012Validator
    from ocsf_json_schema import OcsfJsonSchemaEmbedded, get_ocsf_schema, get_packaged_versions
except ImportError as e:  # pragma: no cover - environment problem, not a validation result
    print(f"ocsf_validate: {e}: run scripts/setup_validators.sh and use its python", file=sys.stderr)
    sys.exit(2)


@functools.lru_cache(maxsize=None)
def raw_schema(version):
    return get_ocsf_schema(version)


@functools.lru_cache(maxsize=None)
def embedded(version):
    return OcsfJsonSchemaEmbedded(raw_schema(version))


@functools.lru_cache(maxsize=None)
def validator(version, class_name, profiles):
    schema = embedded(version).get_class_schema(class_name, profiles=list(profiles))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def read_events(name):
    text = sys.stdin.read() if name == "-" else open(name, encoding="utf-8").read()
    try:
        doc = json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return doc if isinstance(doc, list) else [doc]


def caption(enum, value):
    return (enum or {}).get(str(value), {}).get("caption")


def check(ev, args):
    if not isinstance(ev, dict):
        return ["event is not a JSON object"]
    errors = []
    meta = ev.get("metadata") if isinstance(ev.get("metadata"), dict) else {}
    version = args.ocsf_version or meta.get("version")
    if not isinstance(version, str):
        return ["metadata.version is missing (or pass --ocsf-version)"]
    if version not in get_packaged_versions():
        return [f"OCSF version {version!r} is not packaged: {sorted(get_packaged_versions())}"]
    if args.ocsf_version and meta.get("version") != args.ocsf_version:
        errors.append(f"metadata.version {meta.get('version')!r} != {args.ocsf_version!r}")

    class_uid = ev.get("class_uid")
    if not isinstance(class_uid, int) or isinstance(class_uid, bool):
        return errors + ["class_uid is missing or not an integer"]
    if args.expect_class is not None and class_uid != args.expect_class:
        errors.append(f"class_uid is {class_uid}, expected {args.expect_class}")
    try:
        class_name = embedded(version).lookup_class_name_from_uid(class_uid)
    except (ValueError, KeyError) as e:
        return errors + [f"class_uid {class_uid}: {e}"]
    cls = raw_schema(version)["classes"][class_name]

    declared = meta.get("profiles") or []
    if not isinstance(declared, list):
        declared = []
    known = set(cls.get("profiles") or [])
    unknown = [p for p in declared if p not in known]
    if unknown:
        errors.append(f"metadata.profiles {unknown} are not profiles of {class_name} in OCSF {version}")
    for p in args.require_profile:
        if p not in declared:
            errors.append(f"metadata.profiles does not declare required profile {p!r}")
    profiles = tuple(sorted(p for p in declared if p in known))

    for e in sorted(validator(version, class_name, profiles).iter_errors(ev),
                    key=lambda e: [str(p) for p in e.absolute_path]):
        path = "/".join(str(p) for p in e.absolute_path) or "<root>"
        errors.append(f"{path}: {e.message[:300]}")

    attrs = cls.get("attributes", {})
    activity_id = ev.get("activity_id")
    if isinstance(activity_id, int):
        want = class_uid * 100 + activity_id
        if ev.get("type_uid") != want:
            errors.append(f"type_uid {ev.get('type_uid')} != class_uid*100+activity_id = {want}")
    if ev.get("category_uid") != cls.get("category_uid"):
        errors.append(f"category_uid {ev.get('category_uid')} != {cls.get('category_uid')} for {class_name}")
    if "class_name" in ev and ev["class_name"] != cls.get("caption"):
        errors.append(f"class_name {ev['class_name']!r} != {cls.get('caption')!r}")
    for id_attr, cap_attr in (("activity_id", "activity_name"), ("severity_id", "severity"),
                              ("status_id", "status"), ("action_id", "action"),
                              ("disposition_id", "disposition"), ("confidence_id", "confidence")):
        if id_attr in ev and cap_attr in ev and ev[id_attr] != 99:
            want = caption(attrs.get(id_attr, {}).get("enum"), ev[id_attr])
            if want and ev[cap_attr] != want:
                errors.append(f"{cap_attr} {ev[cap_attr]!r} != caption {want!r} of {id_attr}={ev[id_attr]}")
    if "type_name" in ev and isinstance(activity_id, int) and activity_id != 99:
        act = caption(attrs.get("activity_id", {}).get("enum"), activity_id)
        if act and ev["type_name"] != f"{cls.get('caption')}: {act}":
            errors.append(f"type_name {ev['type_name']!r} != {cls.get('caption') + ': ' + act!r}")
    return errors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ocsf-version", help="schema version to use (default: each event's metadata.version)")
    ap.add_argument("--expect-class", type=int, help="class_uid every event must have")
    ap.add_argument("--require-profile", action="append", default=[], metavar="PROFILE",
                    help="profile every event must declare (repeatable)")
    ap.add_argument("-q", "--quiet", action="store_true", help="print only invalid events")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args()

    invalid = total = 0
    for name in args.files:
        try:
            events = read_events(name)
        except (OSError, json.JSONDecodeError) as e:
            print(f"ocsf_validate: {name}: {e}", file=sys.stderr)
            sys.exit(2)
        for i, ev in enumerate(events):
            total += 1
            errors = check(ev, args)
            if errors:
                invalid += 1
                print(f"INVALID {name}[{i}]:")
                for e in errors:
                    print(f"  - {e}")
            elif not args.quiet:
                meta = ev.get("metadata", {})
                print(f"OK {name}[{i}] class_uid={ev['class_uid']} type_uid={ev.get('type_uid')} "
                      f"ocsf={args.ocsf_version or meta.get('version')} profiles={meta.get('profiles', [])}")
    if total == 0:
        print("ocsf_validate: no events in input", file=sys.stderr)
        sys.exit(2)
    print(f"{total - invalid} valid, {invalid} invalid")
    sys.exit(1 if invalid else 0)


if __name__ == "__main__":
    main()
