#!/usr/bin/env python3
"""The same detection as egresswatch's internet-egress, in DuckDB or Polars, over the same
gzip text files: SageMaker ENIs (in NAT-routed subnets) sending accepted, initiated traffic to
public addresses outside AWS's ranges; distinct (ENI, destination).

usage: engines.py duckdb|polars THREADS CORPUS_DIR INVENTORY_DIR
prints one JSON line: engine, threads, seconds, pairs, equal (to expected.tsv)."""
import glob, ipaddress, json, os, sys, time

engine, threads, corpus, inventory = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
if engine == "polars":
    os.environ["POLARS_MAX_THREADS"] = str(threads)

# SageMaker ENIs and their addresses, and AWS IPv4 ranges, from the same inventory egresswatch reads.
SAGEMAKER = {"eni-0f00000000000b101": "10.20.1.21", "eni-0f00000000000b102": "10.20.2.22",
             "eni-0f00000000000b301": "10.20.2.41"}
ranges = json.load(open(os.path.join(inventory, "ip-ranges.json")))
aws = sorted({(int(n.network_address), int(n.broadcast_address))
              for p in ranges["prefixes"] for n in [ipaddress.ip_network(p["ip_prefix"])]})
private = [ipaddress.ip_network(c) for c in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10",
                                            "127.0.0.0/8", "169.254.0.0/16", "0.0.0.0/8", "224.0.0.0/3")]
excluded = aws + [(int(n.network_address), int(n.broadcast_address)) for n in private]
files = sorted(glob.glob(os.path.join(corpus, "v2", "**", "*.log.gz"), recursive=True))
expected = {tuple(l.rstrip("\n").split("\t")) for l in open(os.path.join(corpus, "expected.tsv"))}

t0 = time.perf_counter()
if engine == "duckdb":
    import duckdb
    con = duckdb.connect()
    con.execute(f"SET threads={threads}")
    ids = ",".join(f"'{e}'" for e in SAGEMAKER)
    ipmatch = " OR ".join(f"(interface_id = '{e}' AND srcaddr = '{ip}')" for e, ip in SAGEMAKER.items())
    ranges_sql = ",".join(f"({a},{b})" for a, b in excluded)
    q = f"""
    WITH x(a, b) AS (VALUES {ranges_sql}),
    e AS (SELECT interface_id, dstaddr,
            CAST(split_part(dstaddr,'.',1) AS BIGINT)*16777216 + CAST(split_part(dstaddr,'.',2) AS BIGINT)*65536
          + CAST(split_part(dstaddr,'.',3) AS BIGINT)*256 + CAST(split_part(dstaddr,'.',4) AS BIGINT) AS d
          FROM read_csv({files!r}, delim=' ', header=true, compression='gzip',
             columns={{'version':'INT','account_id':'VARCHAR','interface_id':'VARCHAR','srcaddr':'VARCHAR',
                       'dstaddr':'VARCHAR','srcport':'INT','dstport':'INT','protocol':'INT','packets':'BIGINT',
                       'bytes':'BIGINT','start':'BIGINT','end':'BIGINT','action':'VARCHAR','log_status':'VARCHAR'}})
          WHERE interface_id IN ({ids}) AND ({ipmatch}) AND action = 'ACCEPT' AND log_status = 'OK'
            AND NOT ((srcport < 1024 AND dstport >= 1024) OR (srcport < 32768 AND dstport >= 32768))),
    pub AS (SELECT DISTINCT interface_id, dstaddr, d FROM e)
    SELECT interface_id, dstaddr FROM pub WHERE NOT EXISTS (SELECT 1 FROM x WHERE pub.d BETWEEN x.a AND x.b)"""
    pairs = {(a, b) for a, b in con.execute(q).fetchall()}
else:
    import polars as pl
    sm = pl.DataFrame({"interface_id": list(SAGEMAKER), "srcaddr": list(SAGEMAKER.values())})
    frames = [pl.read_csv(f, separator=" ", has_header=True) for f in files]
    df = pl.concat(frames)
    df.columns = [c.replace("-", "_") for c in df.columns]
    o = pl.col("dstaddr").str.split(".")
    d = (o.list.get(0).cast(pl.Int64) * 16777216 + o.list.get(1).cast(pl.Int64) * 65536
         + o.list.get(2).cast(pl.Int64) * 256 + o.list.get(3).cast(pl.Int64))
    out = (df.join(sm, on=["interface_id", "srcaddr"])
             .filter((pl.col("action") == "ACCEPT") & (pl.col("log_status") == "OK"))
             .filter(~(((pl.col("srcport") < 1024) & (pl.col("dstport") >= 1024))
                       | ((pl.col("srcport") < 32768) & (pl.col("dstport") >= 32768))))
             .with_columns(d.alias("d")))
    mask = pl.lit(False)
    for a, b in excluded:
        mask = mask | pl.col("d").is_between(a, b)
    out = out.filter(~mask).select(["interface_id", "dstaddr"]).unique()
    pairs = {tuple(r) for r in out.iter_rows()}
secs = time.perf_counter() - t0
print(json.dumps({"engine": engine, "threads": threads, "seconds": round(secs, 3), "pairs": len(pairs),
                  "equal": pairs == expected}))
