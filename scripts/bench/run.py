#!/usr/bin/env python3
"""Runs every measurement on the same corpus, pinned to one core and then two, and prints the
table (records/s, MB/s compressed and raw, peak RSS, ratios). Called by scripts/bench.sh."""
import json, os, shutil, subprocess, sys, time

corpus, inventory, venv_python = sys.argv[1], sys.argv[2], sys.argv[3]
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ew = os.path.join(root, "target/release/egresswatch")
floor = os.path.join(root, "target/release/examples/inflate_floor")
files = sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(corpus, "v2")) for f in fs if f.endswith(".gz"))
comp = sum(os.path.getsize(f) for f in files)
expected = {tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(corpus, "expected.tsv"))}
info = json.loads(subprocess.run([floor, os.path.join(corpus, "v2")], capture_output=True, text=True, check=True).stdout)
records, raw = info["lines"] - len(files), info["bytes_out"]
have_time = os.path.exists("/usr/bin/time")


def run(name, cores, cmd, stdout=subprocess.DEVNULL, env=None):
    pin = ["taskset", "-c", cores] if shutil.which("taskset") else []
    timing = ["/usr/bin/time", "-f", "%M"] if have_time else []
    t0 = time.perf_counter()
    p = subprocess.run(pin + timing + cmd, stdout=stdout, stderr=subprocess.PIPE, text=True, env=env)
    secs = time.perf_counter() - t0
    if p.returncode != 0:
        sys.exit(f"{name} failed: {p.stderr[-500:]}")
    rss = None
    if have_time:
        try:
            rss = int(p.stderr.strip().splitlines()[-1]) // 1024
        except (ValueError, IndexError):
            pass
    return {"name": name, "cores": cores.count(",") + 1, "seconds": secs, "rss_mib": rss, "stdout": p.stdout or ""}


rows = []
rows.append(run("floor: flate2/zlib-rs inflate", "0", [floor, "--threads", "1", os.path.join(corpus, "v2")]))
rows.append(run("floor: flate2/zlib-rs inflate", "0,1", [floor, "--threads", "2", os.path.join(corpus, "v2")]))
if shutil.which("pigz"):
    rows.append(run("floor: pigz -dc", "0", ["sh", "-c", "cat \"$@\" | pigz -dc -p 1 > /dev/null", "sh"] + files))
if shutil.which("libdeflate-gunzip"):
    rows.append(run("floor: libdeflate-gunzip", "0", ["sh", "-c", "for f; do libdeflate-gunzip -c \"$f\" > /dev/null; done", "sh"] + files))
ours = {}
for cores, threads in (("0", "1"), ("0,1", "2")):
    out = os.path.join(corpus, f"ours-{threads}.jsonl")
    with open(out, "w") as f:
        r = run("egresswatch scan (end to end)", cores, [ew, "scan", "--threads", threads, "--inventory", inventory, "--format", "jsonl", os.path.join(corpus, "v2")], stdout=f)
    pairs = {(j["eni"], j["dst_ip"]) for j in map(json.loads, open(out)) if j["category"] == "internet-egress"}
    r["equal"] = pairs == expected
    rows.append(r)
    ours[threads] = r
peers = {}
for engine in ("duckdb", "polars"):
    for cores, threads in (("0", "1"), ("0,1", "2")):
        r = run(f"{engine} (same query)", cores, [venv_python, os.path.join(root, "scripts/bench/engines.py"), engine, threads, corpus, inventory], stdout=subprocess.PIPE)
        r["equal"] = json.loads(r["stdout"].strip().splitlines()[-1])["equal"]
        rows.append(r)
        peers[(engine, threads)] = r

print(f"\ncorpus: {records:,} records, {len(files)} objects, {comp/1e6:.1f} MB gzip, {raw/1e6:.1f} MB raw\n")
print(f"| measurement | cores | seconds | records/s | MB/s gz | MB/s raw | peak RSS MiB | equal |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    rate = records / r["seconds"]
    eq = {True: "yes", False: "NO"}.get(r.get("equal"), "")
    print(f"| {r['name']} | {r['cores']} | {r['seconds']:.2f} | {rate/1e6:.2f} M | {comp/r['seconds']/1e6:.0f} | {raw/r['seconds']/1e6:.0f} | {r['rss_mib'] or '-'} | {eq} |")
fl1 = rows[0]["seconds"]
print()
print(f"ours/floor (1 core, record rate): {fl1 / ours['1']['seconds']:.2f}x   (target >= 0.8x)")
for engine in ("duckdb", "polars"):
    for t in ("1", "2"):
        print(f"ours/{engine} ({t} thread{'s' if t == '2' else ''}): {peers[(engine, t)]['seconds'] / ours[t]['seconds']:.2f}x")
print(f"two cores / one core (ours): {ours['1']['seconds'] / ours['2']['seconds']:.2f}x   (target >= 1.8x)")
bad = [r["name"] for r in rows if r.get("equal") is False]
if bad:
    sys.exit(f"result mismatch: {bad}")
