#!/usr/bin/env python3
"""Runs every measurement on the same corpus, pinned to core 0 and then to cores 0-1, checks every
result set, prints the tables (records/s, MB/s compressed and raw, peak RSS, ratios, targets) and
writes them as JSON next to the corpus. Called by scripts/bench.sh; exits non-zero when any
check fails (a measurement that misses a target is reported, not an error).

usage: run.py CORPUS --bin DIR --python VENV_PYTHON --rules RULES_TOML [--repeat N] [--no-peers]
"""
import argparse, datetime, hashlib, json, os, platform, resource, shutil, subprocess, sys, time

ap = argparse.ArgumentParser()
ap.add_argument("corpus")
ap.add_argument("--bin", required=True, help="folder with egresswatch, inflate_floor, parquet_floor")
ap.add_argument("--python", required=True, help="the venv's python (duckdb, polars)")
ap.add_argument("--rules", required=True, help="rule pack egresswatch compiles in")
ap.add_argument("--repeat", type=int, default=1, help="runs per measurement; the fastest counts")
ap.add_argument("--no-peers", action="store_true", help="skip DuckDB and Polars")
args = ap.parse_args()

corpus = os.path.abspath(args.corpus)
here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(os.path.dirname(here))
ew = os.path.join(args.bin, "egresswatch")
floor = os.path.join(args.bin, "inflate_floor")
pq_floor = os.path.join(args.bin, "parquet_floor")
manifest = json.load(open(os.path.join(corpus, "corpus.json")))
N = manifest["records"]
scratch = os.path.join(corpus, ".bench")
shutil.rmtree(scratch, ignore_errors=True)
os.makedirs(scratch)
expected = {tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(corpus, "expected.tsv"))}
have_time = os.path.exists("/usr/bin/time")
have_taskset = shutil.which("taskset") is not None
checks = []  # (name, ok, detail)


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def check(name, ok, detail=""):
    checks.append({"check": name, "ok": bool(ok), "detail": detail})
    if not ok:
        log(f"CHECK FAILED: {name}: {detail}")
    return bool(ok)


def files_of(fmt):
    ext = ".log.parquet" if fmt == "parquet" else ".log.gz"
    return sorted(os.path.join(d, f) for d, _, fs in os.walk(os.path.join(corpus, fmt))
                  for f in fs if f.endswith(ext))


FORMATS = {}
for fmt in ("v2", "v5", "parquet"):
    fs = files_of(fmt)
    FORMATS[fmt] = {"files": fs, "bytes": sum(os.path.getsize(f) for f in fs),
                    "raw": manifest["bytes"].get(f"{fmt}_raw")}
    check(f"{fmt}: object count", len(fs) == manifest["objects"][fmt],
          f"{len(fs)} files, manifest says {manifest['objects'][fmt]}")


def busy_seconds():
    """CPU time spent by the whole machine (all cores, every container), and steal time."""
    try:
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:9]]
    except OSError:
        return None
    hz = os.sysconf("SC_CLK_TCK")
    return (sum(v) - v[3] - v[4]) / hz, v[7] / hz


def children_seconds():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


# A measurement during which other work used more than this many cores of the machine is
# re-run (the machine may be shared; /proc/stat sees other containers' load, ps does not).
CONTENDED = 0.25


def run(name, fmt, cores, cmd, stdout=subprocess.DEVNULL, env=None):
    """Runs `cmd` pinned to `cores` under /usr/bin/time; the fastest of --repeat runs counts, and
    runs disturbed by other load on the machine are repeated (twice at most)."""
    pin = ["taskset", "-c", cores] if have_taskset else []
    timing = ["/usr/bin/time", "-f", "%M"] if have_time else []
    best = None
    runs, extra = 0, 0
    while runs < max(1, args.repeat) + extra:
        runs += 1
        out = open(stdout, "w") if isinstance(stdout, str) else stdout
        b0, c0 = busy_seconds(), children_seconds()
        t0 = time.perf_counter()
        p = subprocess.run(pin + timing + cmd, stdout=out, stderr=subprocess.PIPE, text=True, env=env)
        secs = time.perf_counter() - t0
        b1, c1 = busy_seconds(), children_seconds()
        # Cores kept busy by anything but this measurement (and hypervisor steal), on average.
        other = None
        if b0 and b1:
            other = max(0.0, (b1[0] - b0[0]) - (c1 - c0) + (b1[1] - b0[1])) / secs
        if isinstance(stdout, str):
            out.close()
        if p.returncode != 0:
            sys.exit(f"{name} ({fmt}, cores {cores}) failed with status {p.returncode}: {p.stderr[-800:]}")
        rss = None
        if have_time:
            try:
                rss = int(p.stderr.strip().splitlines()[-1]) / 1024
            except (ValueError, IndexError):
                pass
        # /proc/stat counts in 10 ms ticks: too coarse to judge runs shorter than half a second.
        if other is not None and secs >= 0.5 and other > CONTENDED and extra < 2:
            extra += 1
            log(f"  ({name} [{fmt}]: {other:.2f} cores busy elsewhere, measuring again)")
        if best is None or secs < best["seconds"]:
            best = {"measurement": name, "format": fmt, "cores": cores.count(",") + 1,
                    "seconds": secs, "rss_mib": rss, "other_load": other,
                    "stdout": p.stdout if stdout is subprocess.PIPE else ""}
    f = FORMATS[fmt]
    best["records_per_s"] = N / best["seconds"]
    best["mb_s_file"] = f["bytes"] / best["seconds"] / 1e6
    best["mb_s_raw"] = f["raw"] / best["seconds"] / 1e6 if f["raw"] else None
    log(f"  {name} [{fmt}, {best['cores']} core(s)]: {best['seconds']:.2f}s")
    return best


rows = []

# 0. The inventory must be read as intended: no warning, every SageMaker ENI attributed to its
# resource, nothing else attributed.
log("inventory attribution")
show = subprocess.run([ew, "inventory", "show", "--inventory", os.path.join(corpus, "inventory")],
                      capture_output=True, text=True, check=True).stdout
problems = [l for l in show.splitlines() if l.startswith(("warning", "ignored"))]
attributed = {}
for line in show.splitlines():
    if line.startswith("eni-"):
        parts = line.split("  ")
        attributed[parts[0]] = parts[3] if len(parts) > 3 else "-"
want = {}
with open(os.path.join(corpus, "sagemaker-enis.tsv")) as f:
    header = f.readline().rstrip("\n").split("\t")
    for l in f:
        r = dict(zip(header, l.rstrip("\n").split("\t")))
        want[r["eni"]] = f"{r['kind']}/{r['name']} (network isolation: {r['network_isolation']})"
wrong = sorted(e for e in want if attributed.get(e) != want[e])
stray = sorted(e for e, v in attributed.items() if v != "-" and e not in want)
check("inventory: no warnings or ignored files", not problems, "; ".join(problems[:3]))
check("inventory: every SageMaker ENI attributed to its resource, nothing else attributed",
      not wrong and not stray and len(attributed) == manifest["enis"],
      f"{len(wrong)} wrong (e.g. {wrong[:2]}), {len(stray)} stray, {len(attributed)} ENIs shown")

log("warming the page cache")
for fmt in FORMATS:
    for f in FORMATS[fmt]["files"]:
        with open(f, "rb") as fh:
            while fh.read(1 << 22):
                pass

# 1. The floor: decompression only.
log("floors")
floors = {}
for fmt in ("v2", "v5"):
    fs, d = FORMATS[fmt]["files"], os.path.join(corpus, fmt)
    for cores, threads in (("0", "1"), ("0,1", "2")):
        r = run("floor: flate2/zlib-rs inflate (egresswatch's)", fmt, cores,
                [floor, "--threads", threads, d], stdout=subprocess.PIPE)
        info = json.loads(r["stdout"])
        # Every line decompressed: the records plus one header per object.
        r["equal"] = check(f"floor {fmt} {threads}t: line count", info["lines"] == N + len(fs),
                           f"{info['lines']} lines, expected {N + len(fs)}")
        check(f"floor {fmt}: raw size", info["bytes_out"] == FORMATS[fmt]["raw"],
              f"{info['bytes_out']} vs {FORMATS[fmt]['raw']}")
        rows.append(r)
        floors[(fmt, "flate2", threads)] = r
    if shutil.which("pigz"):
        r = run("floor: pigz -dc -p 1", fmt, "0",
                ["sh", "-c", 'cat "$@" | pigz -dc -p 1 > /dev/null', "sh"] + fs)
        rows.append(r)
        floors[(fmt, "pigz", "1")] = r
        # Two files at a time (pigz decompresses one stream on one core).
        r = run("floor: pigz -dc -p 1, 2 at a time", fmt, "0,1",
                ["sh", "-c", 'printf "%s\\0" "$@" | xargs -0 -n 4 -P 2 sh -c \'cat "$@" | pigz -dc -p 1 > /dev/null\' sh', "sh"] + fs)
        rows.append(r)
        floors[(fmt, "pigz", "2")] = r
    if shutil.which("libdeflate-gunzip"):
        loop = 'for f; do libdeflate-gunzip -c "$f" > /dev/null; done'
        r = run("floor: libdeflate-gunzip", fmt, "0", ["sh", "-c", loop, "sh"] + fs)
        rows.append(r)
        floors[(fmt, "libdeflate", "1")] = r
        r = run("floor: libdeflate-gunzip, 2 at a time", fmt, "0,1",
                ["sh", "-c", f'printf "%s\\0" "$@" | xargs -0 -n 4 -P 2 sh -c \'{loop}\' sh', "sh"] + fs)
        rows.append(r)
        floors[(fmt, "libdeflate", "2")] = r

# The Parquet floor: arrow-rs decoding the columns egresswatch reads, into Arrow, nothing else.
for cores, threads in (("0", "1"), ("0,1", "2")):
    r = run("floor: arrow-rs reads the projected columns", "parquet", cores,
            [pq_floor, "--threads", threads, os.path.join(corpus, "parquet")], stdout=subprocess.PIPE)
    info = json.loads(r["stdout"])
    r["equal"] = check(f"parquet floor {threads}t: every row read",
                       info["rows"] == N and info["failed"] == 0,
                       f"{info['rows']} rows, {info['failed']} files failed")
    rows.append(r)
    floors[("parquet", "arrow-rs", threads)] = r

# 2. egresswatch end to end.
log("egresswatch scan")
ours = {}
categories = {}
for fmt in ("v2", "v5", "parquet"):
    for cores, threads in (("0", "1"), ("0,1", "2")):
        out = os.path.join(scratch, f"ours-{fmt}-{threads}.jsonl")
        summary = os.path.join(scratch, f"ours-{fmt}-{threads}.summary.json")
        r = run("egresswatch scan (end to end)", fmt, cores,
                [ew, "scan", "--threads", threads, "--inventory", os.path.join(corpus, "inventory"),
                 "--format", "jsonl", "--summary-json", summary, os.path.join(corpus, fmt)], stdout=out)
        findings = [json.loads(l) for l in open(out)]
        pairs = {(j["eni"], j["dst_ip"]) for j in findings if j["category"] == "internet-egress"}
        s = json.load(open(summary))
        ok = check(f"egresswatch {fmt} {threads}t: internet-egress (eni, dst_ip) == expected.tsv",
                   pairs == expected,
                   f"{len(pairs)} pairs, {len(expected)} expected; missing {sorted(expected - pairs)[:3]}, "
                   f"extra {sorted(pairs - expected)[:3]}")
        ok &= check(f"egresswatch {fmt} {threads}t: every record decoded",
                    s["records"] == N and s["skipped"] == 0 and s["failed_files"] == 0,
                    f"records {s['records']} (want {N}), skipped {s['skipped']}, failed {s['failed_files']}")
        r["equal"] = ok
        cats = {}
        for j in findings:
            cats[j["category"]] = cats.get(j["category"], 0) + 1
        categories[(fmt, threads)] = {"findings": cats, "rule_matches": s["rule_matches"]}
        rows.append(r)
        ours[(fmt, threads)] = r

# 2b. The behavioural-baseline stage's cost: the same scans, rules only (--no-baseline).
rules_only = {}
for fmt in ("v2", "v5", "parquet"):
    summary = os.path.join(scratch, f"rules-only-{fmt}.summary.json")
    r = run("egresswatch scan --no-baseline (rules only)", fmt, "0",
            [ew, "scan", "--no-baseline", "--threads", "1", "--inventory", os.path.join(corpus, "inventory"),
             "--format", "jsonl", "--summary-json", summary, os.path.join(corpus, fmt)])
    s = json.load(open(summary))
    r["equal"] = check(f"rules only {fmt}: same rule matches as with baselines",
                       s["rule_matches"] == categories[(fmt, "1")]["rule_matches"])
    rows.append(r)
    rules_only[fmt] = r

# 3. DuckDB and Polars, the same detection over the same files.
peers = {}
if not args.no_peers:
    for engine in ("duckdb", "polars"):
        log(engine)
        for fmt in ("v2", "v5", "parquet"):
            for cores, threads in (("0", "1"), ("0,1", "2")):
                out = os.path.join(scratch, f"{engine}-{fmt}-{threads}.tsv")
                r = run(f"{engine} (same query)", fmt, cores,
                        [args.python, os.path.join(here, "engines.py"), engine, threads, fmt, corpus,
                         args.rules, out], stdout=subprocess.PIPE)
                got = {tuple(l.rstrip("\n").split("\t")) for l in open(out)}
                r["equal"] = check(f"{engine} {fmt} {threads}t: (eni, dst) == expected.tsv", got == expected,
                                   f"{len(got)} pairs, {len(expected)} expected; missing {sorted(expected - got)[:3]}, "
                                   f"extra {sorted(got - expected)[:3]}")
                r["engine_seconds"] = json.loads(r["stdout"].strip().splitlines()[-1])["seconds"]
                rows.append(r)
                peers[(engine, fmt, threads)] = r

# Report.
m = manifest
mb = lambda b: f"{b / 1e6:,.0f} MB"
print()
print(f"corpus: {N:,} records; {m['objects']['v2']} objects per format; v2 {mb(m['bytes']['v2_gz'])} gzip "
      f"({mb(m['bytes']['v2_raw'])} raw), v5 {mb(m['bytes']['v5_gz'])} gzip ({mb(m['bytes']['v5_raw'])} raw), "
      f"Parquet {mb(m['bytes']['parquet'])}; {m['enis']} ENIs ({m['sagemaker_enis']} SageMaker), "
      f"{m['expected_pairs']:,} expected (ENI, destination) pairs, "
      f"{100 * m['intended_rule_matching_fraction']:.2f}% of records intended to match a rule")
print()
print("| measurement | format | cores | seconds | records/s | MB/s gz/file | MB/s raw | peak RSS MiB | equal | busy elsewhere |")
print("|---|---|---|---|---|---|---|---|---|---|")
for r in rows:
    eq = {True: "yes", False: "NO"}.get(r.get("equal"), "")
    raw = f"{r['mb_s_raw']:,.0f}" if r["mb_s_raw"] else "-"
    rss = f"{r['rss_mib']:.0f}" if r["rss_mib"] is not None else "-"
    other = f"{r['other_load']:.2f}" if r.get("other_load") is not None else "-"
    print(f"| {r['measurement']} | {r['format']} | {r['cores']} | {r['seconds']:.2f} | "
          f"{r['records_per_s'] / 1e6:.2f} M | {r['mb_s_file']:,.0f} | {raw} | {rss} | {eq} | {other} |")
print()
print("busy elsewhere: cores used by other work on the machine (and hypervisor steal) during the "
      f"kept run; runs above {CONTENDED} were measured again.")

ratios = {}
print()
for fmt in ("v2", "v5"):
    for lib in ("flate2", "libdeflate", "pigz"):
        fl = floors.get((fmt, lib, "1"))
        if fl:
            ratios[f"ours/floor {lib} {fmt} 1 core"] = fl["seconds"] / ours[(fmt, "1")]["seconds"]
for t in ("1", "2"):
    fl = floors.get(("parquet", "arrow-rs", t))
    if fl:
        ratios[f"ours/floor arrow-rs parquet {t} core{'s' if t == '2' else ''}"] = (
            fl["seconds"] / ours[("parquet", t)]["seconds"])
for fmt in ("v2", "v5", "parquet"):
    for engine in ("duckdb", "polars"):
        for t in ("1", "2"):
            if (engine, fmt, t) in peers:
                ratios[f"ours/{engine} {fmt} {t} thread{'s' if t == '2' else ''}"] = (
                    peers[(engine, fmt, t)]["seconds"] / ours[(fmt, t)]["seconds"])
    ratios[f"two cores/one core {fmt}"] = ours[(fmt, "1")]["seconds"] / ours[(fmt, "2")]["seconds"]
for k, v in ratios.items():
    print(f"{k}: {v:.2f}x")
parquet_rate = ours[("parquet", "1")]["records_per_s"]
peak = max(r["rss_mib"] or 0 for r in ours.values())
pq_floor_rate = floors[("parquet", "arrow-rs", "1")]["records_per_s"]
print(f"Parquet end to end, 1 core: {parquet_rate / 1e6:.2f} M records/s (target 15 M; "
      f"arrow-rs alone reads the same columns at {pq_floor_rate / 1e6:.2f} M records/s)")
print(f"egresswatch peak RSS: {peak:.0f} MiB (target <= 256 MiB)")

targets = []


def target(name, measured, met):
    targets.append({"target": name, "measured": measured, "met": met})


for fmt in ("v2", "v5", "parquet"):
    cost = ours[(fmt, "1")]["seconds"] / rules_only[fmt]["seconds"] - 1
    target(f"baseline stage on costs <= 15% of rules-only throughput ({fmt}, 1 core)",
           f"{cost * 100:+.1f}%", cost <= 0.15)
for fmt in ("v2", "v5"):
    v = ratios[f"ours/floor flate2 {fmt} 1 core"]
    target(f"text .gz ({fmt}) end to end, 1 core, >= 0.8x the floor's record rate", f"{v:.2f}x", v >= 0.8)
target("Parquet end to end >= 15 M records/s, 1 core",
       f"{parquet_rate / 1e6:.2f} M (floor {pq_floor_rate / 1e6:.2f} M)", parquet_rate >= 15e6)
if peers:
    for t in ("1", "2"):
        v = ratios[f"ours/duckdb parquet {t} thread{'s' if t == '2' else ''}"]
        target(f"Parquet ahead of DuckDB, {t} thread{'s' if t == '2' else ''}", f"{v:.2f}x", v > 1)
    for fmt in ("v2", "v5"):
        d1, p1 = ratios[f"ours/duckdb {fmt} 1 thread"], ratios[f"ours/polars {fmt} 1 thread"]
        d2, p2 = ratios[f"ours/duckdb {fmt} 2 threads"], ratios[f"ours/polars {fmt} 2 threads"]
        target(f">= 4x DuckDB, 1 thread, text ({fmt})", f"{d1:.2f}x", d1 >= 4)
        target(f">= 1.5x Polars, 1 thread, text ({fmt})", f"{p1:.2f}x", p1 >= 1.5)
        target(f"ahead of DuckDB and Polars with 2 threads, text ({fmt})",
               f"{d2:.2f}x DuckDB, {p2:.2f}x Polars", d2 > 1 and p2 > 1)
for fmt in ("v2", "v5", "parquet"):
    v = ratios[f"two cores/one core {fmt}"]
    target(f"two cores >= 1.8x one core ({fmt})", f"{v:.2f}x", v >= 1.8)
target(f"peak RSS <= 256 MiB ({N:,} records)", f"{peak:.0f} MiB", peak <= 256)
print()
print("| target | measured | met |")
print("|---|---|---|")
for t in targets:
    print(f"| {t['target']} | {t['measured']} | {'yes' if t['met'] else 'no'} |")

print()
print(f"findings per category (egresswatch, 1 thread): " + "; ".join(
    f"{fmt}: " + ", ".join(f"{k} {v}" for k, v in sorted(categories[(fmt, '1')]['findings'].items()))
    for fmt in ("v2", "v5", "parquet")))
failed = [c for c in checks if not c["ok"]]
print(f"checks: {len(checks) - len(failed)} passed, {len(failed)} failed")

git = lambda *a: subprocess.run(["git", "-C", root, *a], capture_output=True, text=True).stdout.strip()
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?") \
    if os.path.exists("/proc/cpuinfo") else platform.processor()
results = {
    "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    "machine": {"cpu": cpu, "cpus": os.cpu_count(), "kernel": platform.release()},
    "egresswatch": {"git": git("describe", "--always", "--dirty"),
                    "sha256": hashlib.sha256(open(ew, "rb").read()).hexdigest()},
    "repeat": args.repeat,
    "corpus": manifest,
    "rows": [{k: v for k, v in r.items() if k != "stdout"} for r in rows],
    "ratios": ratios,
    "targets": targets,
    "findings_by_category": {f"{k[0]} {k[1]}t": v for k, v in categories.items()},
    "checks": checks,
}
path = corpus.rstrip("/") + ".results.json"
with open(path, "w") as f:
    json.dump(results, f, indent=2)
print(f"results: {path}")
if failed:
    sys.exit(f"{len(failed)} check(s) failed: " + "; ".join(c["check"] for c in failed))
