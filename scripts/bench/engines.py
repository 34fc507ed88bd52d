#!/usr/bin/env python3
"""egresswatch's internet-egress detection written for DuckDB or Polars, over the same files.

usage: engines.py duckdb|polars THREADS v2|v5|parquet CORPUS_DIR RULES_TOML OUT_TSV

Writes the distinct (ENI, destination) pairs to OUT_TSV and prints one JSON line (engine,
threads, format, seconds of the query itself, pairs). scripts/bench/run.py compares OUT_TSV with
expected.tsv and with egresswatch's findings.

What the peers are given, and what they compute themselves:
- Given, precomputed: the SageMaker attribution, CORPUS/sagemaker-enis.tsv (ENI id, its
  addresses, the default route of its subnet: nat, igw or none). egresswatch derives the same
  from the inventory (requester-managed ENIs matched to VpcConfigs, notebook ENI ids, route
  tables); re-implementing that in SQL is not what is being compared.
- Computed here, from the same files egresswatch reads: the addresses that are not "internet"
  (ip-ranges.json, where a specific subset beats AMAZON and the rule pack's internet_services,
  such as EC2 and CLOUDFRONT, count as internet; private and special ranges as egresswatch's
  `is_public`; the VPC CIDRs), merged into disjoint intervals and anti-joined with an ASOF join.

The record-level conditions are egresswatch's, field for field:
- log-status OK, action ACCEPT;
- egress: v2/Parquet: the source address is the ENI's own (as egresswatch decides direction
  without flow-direction); v5: flow-direction = egress;
- not return traffic (src/enrich/mod.rs `is_return`): with tcp-flags (v5) SYN-ACK is return and
  SYN alone an initiator; otherwise service port -> ephemeral port
  (sport < 1024 and dport >= 1024, or sport < 32768 and dport >= 32768) is return;
- destination (v5: pkt-dstaddr, else dstaddr) public and outside the excluded intervals; v5: a
  record naming a pkt-dst-aws-service outside internet_services is an AWS service;
- path: the subnet's default route is a NAT gateway or an internet gateway; v5: traffic-path
  must agree (egresswatch's decide_path: 1/2/8/- through a NAT route, 2/8/- through an IGW).
Records the peers do not use: the NAT gateway ENI's own legs (egresswatch attributes them to the
workload; on this corpus they only repeat pairs the workload's ENI logs). Only IPv4 destinations
are handled (the corpus is IPv4).
"""
import bisect, glob, gzip, ipaddress, json, os, sys, time

engine, threads, fmt, corpus, rules_path, out_path = sys.argv[1:7]
threads = int(threads)
if engine == "polars":
    # Must be set before polars is imported; the process is also pinned with taskset.
    os.environ["POLARS_MAX_THREADS"] = str(threads)

try:
    import tomllib
except ModuleNotFoundError:  # Python < 3.11
    import tomli as tomllib

inventory = os.path.join(corpus, "inventory")
rules = tomllib.load(open(rules_path, "rb"))
internet_services = sorted(rules.get("classify", {}).get("internet_services", []))


def v4_bounds(cidr):
    n = ipaddress.ip_network(cidr, strict=False)
    return int(n.network_address), int(n.broadcast_address)


def excluded_intervals():
    """Disjoint, sorted [a, b] IPv4 intervals whose addresses are not internet for egresswatch."""
    specific, amazon = [], []
    ranges = json.load(open(os.path.join(inventory, "ip-ranges.json")))
    for p in ranges["prefixes"]:
        a, b = v4_bounds(p["ip_prefix"])
        (amazon if p["service"] == "AMAZON" else specific).append((a, b, p["service"]))
    # Sweep the boundaries: per elementary interval, a specific subset decides; else AMAZON.
    cuts = sorted({x for a, b, _ in specific + amazon for x in (a, b + 1)})
    spec_cov = [set() for _ in cuts]
    amz_cov = [False for _ in cuts]
    for a, b, s in specific:
        for i in range(bisect.bisect_left(cuts, a), bisect.bisect_left(cuts, b + 1)):
            spec_cov[i].add(s)
    for a, b, _ in amazon:
        for i in range(bisect.bisect_left(cuts, a), bisect.bisect_left(cuts, b + 1)):
            amz_cov[i] = True
    out = []
    for i in range(len(cuts) - 1):
        svcs = spec_cov[i]
        if len(svcs) > 1:
            # egresswatch breaks such ties by its own interning order; refuse rather than guess.
            sys.exit(f"overlapping specific subsets {sorted(svcs)} at {ipaddress.ip_address(cuts[i])}")
        if svcs:
            aws_service = next(iter(svcs)) not in internet_services
        else:
            aws_service = amz_cov[i]
        if aws_service:
            out.append((cuts[i], cuts[i + 1] - 1))
    # egresswatch's ip::is_public, IPv4 part.
    for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
              "169.254.0.0/16", "0.0.0.0/8", "224.0.0.0/4", "240.0.0.0/4"):
        out.append(v4_bounds(c))
    for v in json.load(open(os.path.join(inventory, "ec2", "vpcs.json")))["Vpcs"]:
        blocks = {v.get("CidrBlock")} | {c.get("CidrBlock") for c in v.get("CidrBlockAssociationSet", [])}
        out.extend(v4_bounds(c) for c in blocks if c)
    out.sort()
    merged = []
    for a, b in out:
        if merged and a <= merged[-1][1] + 1:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


excluded = excluded_intervals()
sm_rows = []
with open(os.path.join(corpus, "sagemaker-enis.tsv")) as f:
    header = f.readline().rstrip("\n").split("\t")
    for line in f:
        r = dict(zip(header, line.rstrip("\n").split("\t")))
        if r["route"] in ("nat", "igw"):
            sm_rows.append((r["eni"], r["ip"], r["route"]))
sm_enis = sorted({(e, route) for e, _, route in sm_rows})

pattern = {"v2": "v2/**/*.log.gz", "v5": "v5/**/*.log.gz", "parquet": "parquet/**/*.log.parquet"}[fmt]
files = sorted(glob.glob(os.path.join(corpus, pattern), recursive=True))
if not files:
    sys.exit(f"no {fmt} files under {corpus}")

V2_COLUMNS = [("version", "INTEGER"), ("account_id", "VARCHAR"), ("interface_id", "VARCHAR"),
              ("srcaddr", "VARCHAR"), ("dstaddr", "VARCHAR"), ("srcport", "INTEGER"),
              ("dstport", "INTEGER"), ("protocol", "INTEGER"), ("packets", "BIGINT"),
              ("bytes", "BIGINT"), ("start", "BIGINT"), ("end", "BIGINT"), ("action", "VARCHAR"),
              ("log_status", "VARCHAR")]


def v5_columns():
    """The v5 layout, in its header's order, with AWS's types."""
    with gzip.open(files[0], "rt") as f:
        names = f.readline().split()
    ints = {"version", "srcport", "dstport", "protocol", "tcp-flags", "traffic-path"}
    bigs = {"packets", "bytes", "start", "end"}
    return [(n.replace("-", "_"), "INTEGER" if n in ints else "BIGINT" if n in bigs else "VARCHAR")
            for n in names]


t0 = time.perf_counter()
if engine == "duckdb":
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    # DuckDB 2.0 plans this small-interval ASOF join as a nested loop (tens of millions of
    # intermediate rows); the sort-merge ASOF join is what an expert would force.
    con.execute("SET asof_loop_join_threshold = 0")

    def table(name, columns, rows):
        # Lists bound as parameters and unnested: executemany is row by row (seconds here).
        select = ", ".join(f"unnest(${i + 1}::{t}[]) AS {c}" for i, (c, t) in enumerate(columns))
        con.execute(f"CREATE TABLE {name} AS SELECT {select}", [list(c) for c in zip(*rows)])

    table("sm", [("eni", "VARCHAR"), ("ip", "VARCHAR"), ("route", "VARCHAR")], sm_rows)
    table("sme", [("eni", "VARCHAR"), ("route", "VARCHAR")], sm_enis)
    table("x", [("a", "BIGINT"), ("b", "BIGINT")], excluded)
    ports_return = ("coalesce((f.srcport < 1024 AND f.dstport >= 1024) "
                    "OR (f.srcport < 32768 AND f.dstport >= 32768), false)")
    if fmt == "parquet":
        source = f"read_parquet({files!r})"
    else:
        cols = V2_COLUMNS if fmt == "v2" else v5_columns()
        spec = ", ".join(f"'{n}': '{t}'" for n, t in cols)
        source = (f"read_csv({files!r}, delim=' ', header=true, compression='gzip', nullstr='-', "
                  f"auto_detect=false, columns={{{spec}}})")
    if fmt == "v5":
        is_return = (f"CASE WHEN f.protocol = 6 AND (f.tcp_flags & 18) = 18 THEN true "
                     f"WHEN f.protocol = 6 AND (f.tcp_flags & 2) <> 0 THEN false ELSE {ports_return} END")
        egress = f"""
          SELECT f.interface_id, coalesce(f.pkt_dstaddr, f.dstaddr) AS dst
          FROM {source} f JOIN sme ON f.interface_id = sme.eni
          WHERE f.log_status = 'OK' AND f.action = 'ACCEPT' AND f.flow_direction = 'egress'
            AND NOT {is_return}
            AND (f.pkt_dst_aws_service IS NULL OR f.pkt_dst_aws_service IN ({", ".join(f"'{s}'" for s in internet_services)}))
            AND ((sme.route = 'nat' AND (f.traffic_path IS NULL OR f.traffic_path IN (1, 2, 8)))
              OR (sme.route = 'igw' AND (f.traffic_path IS NULL OR f.traffic_path IN (2, 8))))"""
    else:
        egress = f"""
          SELECT f.interface_id, f.dstaddr AS dst
          FROM {source} f JOIN sm ON f.interface_id = sm.eni AND f.srcaddr = sm.ip
          WHERE f.log_status = 'OK' AND f.action = 'ACCEPT' AND NOT {ports_return}"""
    octet = lambda i: f"TRY_CAST(split_part(dst, '.', {i}) AS BIGINT)"
    q = f"""
    WITH e AS ({egress}),
    p AS (SELECT DISTINCT interface_id, dst,
            {octet(1)} * 16777216 + {octet(2)} * 65536 + {octet(3)} * 256 + {octet(4)} AS d FROM e)
    SELECT p.interface_id, p.dst FROM p ASOF LEFT JOIN x ON p.d >= x.a
    WHERE p.d IS NOT NULL AND (x.b IS NULL OR p.d > x.b)"""
    pairs = set(con.execute(q).fetchall())
else:
    import polars as pl

    col = pl.col
    ports_return = (((col("srcport") < 1024) & (col("dstport") >= 1024))
                    | ((col("srcport") < 32768) & (col("dstport") >= 32768))).fill_null(False)
    if fmt == "parquet":
        lf = pl.scan_parquet(files)
    else:
        cols = V2_COLUMNS if fmt == "v2" else v5_columns()
        types = {"INTEGER": pl.Int32, "BIGINT": pl.Int64, "VARCHAR": pl.String}
        # The header's hyphenated names, renamed to the Parquet names.
        lf = pl.scan_csv(files, separator=" ", has_header=True, null_values="-",
                         schema={n.replace("_", "-"): types[t] for n, t in cols})
        lf = lf.rename({n.replace("_", "-"): n for n, _ in cols})
    base = (col("log_status") == "OK") & (col("action") == "ACCEPT")
    if fmt == "v5":
        sme = pl.DataFrame(sm_enis, schema=["interface_id", "route"], orient="row").lazy()
        flags = col("tcp_flags")
        is_return = (pl.when((col("protocol") == 6) & ((flags & 18) == 18)).then(True)
                     .when((col("protocol") == 6) & ((flags & 2) != 0)).then(False)
                     .otherwise(ports_return))
        tp = col("traffic_path")
        e = (lf.filter(base & (col("flow_direction") == "egress"))
               .join(sme, on="interface_id")
               .filter(~is_return
                       & (col("pkt_dst_aws_service").is_null()
                          | col("pkt_dst_aws_service").is_in(internet_services))
                       & (((col("route") == "nat") & (tp.is_null() | tp.is_in([1, 2, 8])))
                          | ((col("route") == "igw") & (tp.is_null() | tp.is_in([2, 8])))))
               .select(col("interface_id"), pl.coalesce("pkt_dstaddr", "dstaddr").alias("dst")))
    else:
        sm = pl.DataFrame([(a, b) for a, b, _ in sm_rows], schema=["interface_id", "srcaddr"],
                          orient="row").lazy()
        e = (lf.filter(base)
               .join(sm, on=["interface_id", "srcaddr"])
               .filter(~ports_return)
               .select(col("interface_id"), col("dstaddr").alias("dst")))
    o = col("dst").str.split(".")
    d = sum(o.list.get(i, null_on_oob=True).cast(pl.Int64, strict=False) * m
            for i, m in enumerate((16777216, 65536, 256, 1)))
    p = e.unique().with_columns(d.alias("d")).filter(col("d").is_not_null()).sort("d")
    x = pl.DataFrame(excluded, schema=["a", "b"], orient="row").lazy().sort("a")
    out = (p.join_asof(x, left_on="d", right_on="a", strategy="backward")
             .filter(col("b").is_null() | (col("d") > col("b")))
             .select("interface_id", "dst"))
    pairs = set(out.collect(engine="streaming").iter_rows())
secs = time.perf_counter() - t0
with open(out_path, "w") as f:
    for eni, dst in sorted(pairs):
        f.write(f"{eni}\t{dst}\n")
print(json.dumps({"engine": engine, "threads": threads, "format": fmt, "files": len(files),
                  "seconds": round(secs, 3), "pairs": len(pairs)}))
