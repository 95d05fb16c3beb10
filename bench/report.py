#!/usr/bin/python3
"""bench/run's report: the table (stdout) and bench/results.md from the raw files.

  report.py report SCRATCH OUT     SCRATCH holds rounds.tsv, rss.tsv, meta.env, prof/
  report.py misses ROUNDS.TSV N    endpoints whose target is missed (to profile), one a line
"""
import os
import statistics
import sys

ANCHORS = ["static", "hello", "db", "php"]
WHAT = {
    "static": "anchor: nginx static bytes",
    "hello": "anchor: libfcgi fixed JSON",
    "db": "anchor: libfcgi + prepared point-select",
    "php": "anchor: PHP-FPM + PDO point-select",
    "get_json": "GET /api/v1/tenants/{id}, JSON",
    "get_xml": "GET /api/v1/tenants/{id}, XML",
    "get_304": "GET /api/v1/tenants/{id}, If-None-Match → 304",
    "list_1": "GET /api/v1/tenants?pageNumber=1",
    "list_mid": "GET /api/v1/tenants, middle page",
    "list_last": "GET /api/v1/tenants, last page",
    "count": "GET /api/v1/tenants/count",
    "search": "GET /api/v1/tenants?q=K (text search, first page)",
    "create": "POST /api/v1/tenants (durable)",
    "tc_get": "seed 000: GET /v1/tenants/{tenant_id}",
    "mindzie_get": "seed 003: GET /api/tenant/{tenantId}",
    "tc_list": "seed 000: GET /v1/tenants (10 connections)",
    "aether_list": "seed 004: GET /tenants/me/connections (10)",
    "laravel_list": "seed 002: GET /tenants (first page)",
    "mindzie_list": "seed 003: GET /api/tenant?pageSize=10",
    "search_count": "GET /api/v1/tenants/count?q=K",
    "active_page": "GET /api/v1/tenants?isActive=true, random page and sort",
    "inactive_page": "GET /api/v1/tenants?isActive=false, random sort",
    "filter_count": "GET /api/v1/tenants/count?isActive=true|false",
    "laravel_search": "seed 002: GET /tenants?description=K",
    "filter_mix": "search, isActive pages, counts in turn (issue 12)",
}
# Each compatibility surface's GET by id and first list page against the canonical
# equivalent in the same run (issue 11): at least 0.9x.
SURFACES = [("tc_get", "get_json"), ("mindzie_get", "get_json"), ("tc_list", "list_1"),
            ("aether_list", "list_1"), ("laravel_list", "list_1"), ("mindzie_list", "list_1")]
BIG = 1_000_000


def load_rounds(path):
    rows = {}
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) < 7:
                continue
            r = rows.setdefault(p[1], {"rps": [], "p50": [], "p99": [], "reqs": 0, "err": 0})
            r["rps"].append(float(p[2]))
            r["p50"].append(float(p[3]))
            r["p99"].append(float(p[4]))
            r["reqs"] += int(p[5])
            r["err"] += int(p[6])
    out = {}
    for name, r in rows.items():
        out[name] = {
            "rps": statistics.median(r["rps"]),
            "p50": statistics.median(r["p50"]),
            "p99": statistics.median(r["p99"]),
            "p99max": max(r["p99"]),
            "rounds": r["rps"],
            "reqs": r["reqs"],
            "err": r["err"],
        }
    return out


def ratio(a, b):
    return a / b if a is not None and b else None


def targets(res, tenants, rss=None, rss_requests=0):
    """[(label, figure text, verdict)] where verdict is 'met', 'MISSED' or 'not judged: why'."""
    g = lambda n, k="rps": res.get(n, {}).get(k)
    out = []

    def judge(ok):
        return "met" if ok else "MISSED"

    j, x = g("get_json"), g("get_xml")
    r = ratio(j, g("db"))
    out.append(("GET by id (JSON) ≥ 1.0× db anchor", "get_json",
                f"{r:.3f}× ({j:,.0f} vs {g('db'):,.0f} req/s)" if r else "n/a",
                judge(r is not None and r >= 1.0)))
    r = ratio(j, g("php"))
    out.append(("GET by id (JSON) ≥ 1.4× PHP peer", "get_json",
                f"{r:.3f}× ({j:,.0f} vs {g('php'):,.0f} req/s)" if r else "n/a",
                judge(r is not None and r >= 1.4)))
    r = ratio(x, j)
    out.append(("XML ≥ 0.9× JSON", "get_xml",
                f"{r:.3f}× ({x:,.0f} vs {j:,.0f} req/s)" if r else "n/a",
                judge(r is not None and r >= 0.9)))
    r = ratio(g("list_1"), g("db"))
    out.append(("list page 1 ≥ 0.7× db anchor", "list_1",
                f"{r:.3f}× ({g('list_1'):,.0f} vs {g('db'):,.0f} req/s)" if r else "n/a",
                judge(r is not None and r >= 0.7)))
    lists = [(g(n, "p99max"), n) for n in ("list_1", "list_mid", "list_last") if g(n, "p99max") is not None]
    worst = max(lists) if lists else (None, None)
    fig = ", ".join(f"{n} {v:.1f} ms" for v, n in lists) + " (worst round)" if lists else "n/a"
    out.append(("list p99 < 50 ms at any depth, 1,000,000 tenants", worst[1], fig,
                ("MISSED" if worst[0] is None else judge(worst[0] < 50)) if tenants >= BIG
                else f"not judged: {tenants:,} tenants (indicative: {'under' if worst[0] is not None and worst[0] < 50 else 'over'})"))
    c = g("count", "p99max")
    out.append(("count p99 < 20 ms unfiltered, 1,000,000 tenants", "count",
                f"{c:.1f} ms (worst round)" if c is not None else "n/a",
                ("MISSED" if c is None else judge(c < 20)) if tenants >= BIG
                else f"not judged: {tenants:,} tenants (indicative: {'under' if c is not None and c < 20 else 'over'})"))
    for name, canon in SURFACES:
        r = ratio(g(name), g(canon))
        out.append((f"{name} ≥ 0.9× {canon}", name,
                    f"{r:.3f}× ({g(name):,.0f} vs {g(canon):,.0f} req/s)" if r else "n/a",
                    judge(r is not None and r >= 0.9)))
    cr = g("create")
    out.append(("create ≥ 1,000/s (durable)", "create", f"{cr:,.0f}/s" if cr is not None else "n/a",
                judge(cr is not None and cr >= 1000)))
    if rss is not None:
        fig, verdict = rss_verdict(rss, rss_requests)
        out.append(("worker RSS < 10 MB after 1,000,000 requests, not growing", None, fig, verdict))
    return out


def load_rss(path):
    rows = []
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                p = line.rstrip("\n").split("\t")
                if len(p) == 6:
                    rows.append({"label": p[0], "reqs": int(p[1]), "pid": p[2], "role": p[3],
                                 "rss": int(p[4]), "anon": int(p[5])})
    return rows


GROWTH_KB = 256  # between the RSS run's middle and end: under 0.5 byte per request


def rss_verdict(rss, rss_requests):
    workers = [r for r in rss if r["role"] == "worker"]
    if not workers:
        return "no samples", "not judged: no samples"
    last_label = workers[-1]["label"]
    last = [r for r in workers if r["label"] == last_label]
    maxrss = max(r["rss"] for r in last)
    fig = f"max {maxrss / 1024:.1f} MB after {last[0]['reqs']:,} requests"
    mid = {r["pid"]: r for r in workers if r["label"] == "rss-mid"}
    if last_label != "rss-end" or not mid:
        return fig, f"not judged: {last[0]['reqs']:,} requests (the 1,000,000-request run is full mode)"
    growth = []
    for r in last:
        if r["pid"] not in mid:
            return fig + f"; worker {r['pid']} was restarted during the run", "MISSED"
        growth.append(r["rss"] - mid[r["pid"]]["rss"])
    g = max(growth)
    fig += f"; growth middle → end of the RSS run {g:+d} kB (limit {GROWTH_KB} kB)"
    ok = maxrss < 10 * 1024 and g <= GROWTH_KB and last[0]["reqs"] >= BIG
    return fig, "met" if ok else "MISSED"


def fmt(v, spec):
    return "—" if v is None else format(v, spec)


def table_rows(res):
    db, php, hello = (res.get(n, {}).get("rps") for n in ("db", "php", "hello"))
    rows = []
    for name in WHAT:
        if name not in res:
            continue
        r = res[name]
        td = name not in ANCHORS
        rows.append([
            name, WHAT[name], fmt(r["rps"], ",.0f"), fmt(r["p50"], ".2f"), fmt(r["p99"], ".2f"),
            fmt(r["p99max"], ".2f"),
            fmt(ratio(r["rps"], db), ".2f") + "×" if td else "",
            fmt(ratio(r["rps"], php), ".2f") + "×" if td else "",
            fmt(ratio(r["rps"], hello), ".2f") + "×" if td else "",
            str(r["err"]) if r["err"] else "",
        ])
    return rows


HEAD = ["endpoint", "what", "req/s", "p50 ms", "p99 ms", "p99 max", "vs db", "vs php", "vs hello", "errors"]


def text_table(rows):
    cols = [HEAD] + rows
    w = [max(len(r[i]) for r in cols) for i in range(len(HEAD))]
    right = {2, 3, 4, 5, 6, 7, 8, 9}
    lines = []
    for k, r in enumerate(cols):
        lines.append("  ".join(c.rjust(w[i]) if i in right else c.ljust(w[i]) for i, c in enumerate(r)))
        if k == 0:
            lines.append("  ".join("-" * x for x in w))
    return "\n".join(lines)


def md_table(head, rows, right=()):
    out = ["| " + " | ".join(head) + " |",
           "|" + "|".join("---:" if i in right else "---" for i in range(len(head))) + "|"]
    out += ["| " + " | ".join(c.replace("|", "\\|") for c in r) + " |" for r in rows]
    return "\n".join(out)


def load_prof_summary(path):
    """endpoint -> {rps, n, groups: {group: {u, s, sc}}, sql}"""
    out = {}
    if not os.path.exists(path):
        return out
    with open(path) as f:
        for line in f:
            p = line.rstrip("\n").split("\t")
            if len(p) < 5:
                continue
            d = out.setdefault(p[0], {"rps": float(p[1]), "n": int(p[2]), "groups": {}})
            if p[3] == "sql":
                d["sql"] = p[4]
            elif len(p) >= 7:
                d["groups"][p[3]] = {"u": float(p[4]), "s": float(p[5]), "sc": p[6]}
    return out


def load_meta(path):
    meta = {}
    with open(path) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            meta[k] = v
    return meta


def cmd_misses(tsv, tenants):
    res = load_rounds(tsv)
    seen = []
    for label, endpoint, fig, verdict in targets(res, int(tenants)):
        if verdict == "MISSED" and endpoint and endpoint not in seen:
            seen.append(endpoint)
    print("\n".join(seen))


def cmd_report(scr, out):
    meta = load_meta(os.path.join(scr, "meta.env"))
    res = load_rounds(os.path.join(scr, "rounds.tsv"))
    rss = load_rss(os.path.join(scr, "rss.tsv"))
    tenants = int(meta["tenants"])
    rows = table_rows(res)
    tg = targets(res, tenants, rss, int(meta.get("rss_requests", 0)))

    head = (f"tenantd vs anchors — {meta['mode']} mode, {tenants:,} tenants, {meta['workers']} workers each, "
            f"{meta['nproc']} cores, {meta['rounds']} rounds × {meta['duration']} s, wrk -t1 -c{meta['connections']}; "
            f"load {meta['load_start'].split()[0]} before the run"
            + (f", other programs {meta['foreign_cpu']} % CPU during the rounds" if meta.get("foreign_cpu") else ""))
    print()
    print(head)
    print(text_table(rows))
    print()
    for label, _, fig, verdict in tg:
        print(f"  {verdict:<7.7s} {label}: {fig}" if verdict in ("met", "MISSED")
              else f"  ------  {label}: {fig} ({verdict})")
    print()

    md = []
    md.append("# tenantd benchmark results\n")
    md.append(f"Written by `bench/run` on {meta['date']} ({meta['mode']} mode; "
              f"`bench/run{' --quick' if meta['mode'] == 'quick' else ''}"
              f"{'' if tenants == 100000 else f' --tenants {tenants}'}`). "
              "Compare ratios within this run only; absolute figures depend on the machine and its load.\n")
    md.append("## Machine and set-up\n")
    noisy = []
    try:
        if float(meta["load_start"].split()[0]) >= 0.5:
            noisy.append("1-minute load ≥ 0.5 at the start")
    except (KeyError, ValueError, IndexError):
        pass
    try:
        if float(meta.get("foreign_cpu", "0")) >= 5:
            noisy.append(f"other programs used {meta['foreign_cpu']} % of the CPU during the rounds")
    except ValueError:
        pass
    load_note = (" — **the machine was not quiet** (" + "; ".join(noisy) + "): figures are noisy") if noisy else ""
    md.append("\n".join([
        f"- cores (`nproc`): **{meta['nproc']}** ({meta['cpu']}), kernel {meta['kernel']}",
        f"- load average before the run: {meta['load_start']} (1/5/15 min; during the run it is the bench's own)"
        + (f"; CPU used by other programs during the rounds: {meta['foreign_cpu']} % of the machine"
           if meta.get("foreign_cpu") else "")
        + (f" (by round: {', '.join(x + ' %' for x in meta['foreign_rounds'].split())})"
           if meta.get("foreign_rounds") else "") + load_note,
        f"- tenants: **{tenants:,}** seeded for tenantd (`tenantctl seed`, {meta['seed_secs']} s) and "
        f"{tenants:,} rows in `anchor.tenants`, one MariaDB server for both",
        f"- FastCGI processes: {meta['workers']} for tenantd and for each anchor (hello, db, PHP-FPM); "
        "one nginx, 1 worker process",
        f"- wrk: 1 thread, {meta['connections']} connections, {meta['rounds']} rounds × {meta['duration']} s per "
        "endpoint, rounds interleaved (each round runs every endpoint once); figures are the median of the rounds, "
        "`p99 max` the worst round",
        f"- MariaDB: `innodb_flush_log_at_trx_commit=1`, no binlog, 1 GiB buffer pool, data on {meta['fstype']}",
        ("- tenantd's provisioning process ran; its backlog was waited out after each create run "
         f"({meta['drain_secs'] or '—'} s)" if meta.get("provisioning") == "1" else
         "- tenantd's provisioning process was off (`provision.enabled = 0`): a create commits the tenant, its "
         "provisioning job, audit event and counter, and nothing works the jobs off during the run"),
        "- tenantd: rate limit off (`TENANTD_RATE_LIMIT_PER_MINUTE=0`), one JSON log line per request to a file",
        f"- versions: tenantd {meta['v_tenantd']}; {meta['v_nginx']}; {meta['v_mariadb']}; {meta['v_php']}; "
        f"libfcgi {meta['v_libfcgi']}; {meta['v_wrk']}",
        f"- the whole run took {meta['elapsed']} s ({meta.get('phases', '')})",
    ]) + "\n")
    md.append("## Results\n")
    md.append(md_table(HEAD, rows, right={2, 3, 4, 5, 6, 7, 8, 9}) + "\n")
    md.append("`vs db` / `vs php` / `vs hello`: tenantd's req/s over the `db` anchor's (libfcgi + one prepared "
              "point-select), the PHP-FPM peer's and the libfcgi `hello` anchor's, in this run. "
              "`errors`: non-2xx/3xx answers and socket errors over all rounds.\n")
    md.append("## Targets\n")
    md.append(md_table(["target", "measured", "verdict"],
                       [[label, fig, f"**{v}**" if v == "MISSED" else v] for label, _, fig, v in tg]) + "\n")

    workers = [r for r in rss if r["role"] == "worker"]
    if workers:
        md.append("## tenantd worker memory\n")
        labels = []
        for r in rss:
            if r["label"] not in labels:
                labels.append(r["label"])
        pids = []
        for r in rss:
            if (r["pid"], r["role"]) not in pids:
                pids.append((r["pid"], r["role"]))
        head_r = ["sample", "tenantd requests"] + [f"{role} {pid} RSS / anon kB" for pid, role in pids]
        trows = []
        for lab in labels:
            at = {r["pid"]: r for r in rss if r["label"] == lab}
            reqs = next(r["reqs"] for r in rss if r["label"] == lab)
            trows.append([lab, f"{reqs:,}"] + [f"{at[p]['rss']:,} / {at[p]['anon']:,}" if p in at else "—"
                                                for p, _ in pids])
        md.append(md_table(head_r, trows, right=set(range(1, len(head_r)))) + "\n")
        md.append("VmRSS and RssAnon from /proc/PID/status of the children of the tenantd master: `worker` holds "
                  "the listening socket, `other` is the provisioning process. `start`: just started; `warm`: after "
                  "the warm-up; `rounds`: after the measured rounds; `rss-mid`/`rss-end`: halfway through and at "
                  f"the end of the RSS run (get JSON, get XML, 304, list page 1 and count in turn). Growth over "
                  f"{GROWTH_KB} kB between the middle and the end counts as growing.\n")

    prof = meta.get("profiles", "")
    summary = load_prof_summary(os.path.join(prof, "summary.tsv")) if prof else {}
    profs = sorted(f for f in os.listdir(prof) if f.endswith(".txt")) if prof and os.path.isdir(prof) else []
    if summary or profs:
        md.append("## Where the time goes\n")
        md.append("Measured while wrk ran each endpoint that misses a target, and the `db` anchor for comparison, "
                  "for one round's duration after the rounds. Per request: CPU time of each process group "
                  "(utime + stime from /proc, so it includes work a request leaves behind), system calls "
                  "(`perf stat -e raw_syscalls:sys_enter`) and SQL statements (MariaDB's `Questions`). `app` is "
                  "tenantd's workers for tenantd endpoints, the two `fcgi_ref` processes for `db`.\n")
        if summary:
            head_p = ["endpoint", "req/s", "app µs/req (user+sys)", "nginx µs/req", "mariadbd µs/req",
                      "all three µs/req", "app syscalls/req", "nginx syscalls/req", "mariadbd syscalls/req",
                      "SQL statements/req"]
            prow = []
            for e, d in summary.items():
                g = d["groups"]
                app = next((k for k in g if k not in ("nginx", "mariadbd")), None)
                cpu = lambda k: g[k]["u"] + g[k]["s"] if k in g else None
                tot = sum(cpu(k) for k in g)
                prow.append([e, f"{d['rps']:,.0f}",
                             f"{cpu(app):.0f} ({g[app]['u']:.0f}+{g[app]['s']:.0f})" if app else "—",
                             fmt(cpu("nginx"), ".0f"), fmt(cpu("mariadbd"), ".0f"), f"{tot:.0f}",
                             g[app]["sc"] if app else "—", g.get("nginx", {}).get("sc", "—"),
                             g.get("mariadbd", {}).get("sc", "—"), d.get("sql", "—")])
            md.append(md_table(head_p, prow, right=set(range(1, len(head_p)))) + "\n")
            ref = summary.get("db")
            lines = []
            for e, d in summary.items():
                if e == "db" or not ref:
                    continue
                g, rg = d["groups"], ref["groups"]
                cpu = lambda gg, k: gg[k]["u"] + gg[k]["s"] if k in gg else 0.0
                tot, rtot = sum(cpu(g, k) for k in g), sum(cpu(rg, k) for k in rg)
                parts = [f"tenantd {cpu(g, 'tenantd'):.0f} vs fcgi_ref {cpu(rg, 'fcgi_db'):.0f}",
                         f"nginx {cpu(g, 'nginx'):.0f} vs {cpu(rg, 'nginx'):.0f}",
                         f"mariadbd {cpu(g, 'mariadbd'):.0f} vs {cpu(rg, 'mariadbd'):.0f}"]
                lines.append(f"- **{e}**: {tot:.0f} µs of CPU per request in tenantd + nginx + MariaDB against "
                             f"{rtot:.0f} µs for `db` ({tot / rtot if rtot else 0:.1f}×): " + ", ".join(parts) +
                             f"; system calls per request in the app {g.get('tenantd', {}).get('sc', '—')} vs "
                             f"{rg.get('fcgi_db', {}).get('sc', '—')}, in nginx {g.get('nginx', {}).get('sc', '—')} "
                             f"vs {rg.get('nginx', {}).get('sc', '—')}; SQL statements per request "
                             f"{d.get('sql', '—')} vs {ref.get('sql', '—')}.")
            if lines:
                md.append("\n".join(lines) + "\n")
        if profs:
            md.append("`perf record -e cpu-clock -a` over the same runs. In this VM the kernel's samples land "
                      "almost all on one symbol (the hypervisor's irq-enable), so kernel time shows per process "
                      "only; the symbols below are user space.\n")
        for f in ["db.txt"] + [p for p in profs if p != "db.txt"]:
            if f in profs:
                with open(os.path.join(prof, f)) as fh:
                    md.append(f"### {f[:-4]}\n\n```\n{fh.read().rstrip()}\n```\n")
    notes = os.path.join(os.path.dirname(os.path.abspath(__file__)), "analysis.md")
    if os.path.exists(notes):
        with open(notes) as fh:
            text = fh.read()
        if text.lstrip().startswith("<!--"):
            text = text.split("-->", 1)[1]
        md.append(text.strip() + "\n")
    md.append("## Method\n")
    md.append("See bench/README.md. Raw per-round figures of this run: `bench/results/raw/` (not committed).\n")
    with open(out, "w") as f:
        f.write("\n".join(md))


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "report":
        cmd_report(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 4 and sys.argv[1] == "misses":
        cmd_misses(sys.argv[2], sys.argv[3])
    else:
        sys.exit(__doc__)
