#!/usr/bin/env python3
"""Makes the benchmark's inputs from real audit records, repeated with shifted times and
serials so every event id stays unique:

  mixed.log   ~SIZE MB of execve/file noise (records from the public corpus) with one
              signal event (kill, OBJ_PID, PROCTITLE, as the kernel writes them) per 1000 events
  dense.log   N signal events and nothing else, 30 s apart: years of history (for the
              database size and query speed)
  signal-dense.log
              N signal events, 1 ms apart, every kill with its own command line
              (`kill -9 PID`, the usual case): a collector's or `--signals all` host's log
  wide.log    one kill reaching 100,000 processes (kill(-1) on a large host)
  enriched.log
              ~SIZE MB of a real kernel's ENRICHED log with `node=` names (enriched-sample.log.gz:
              execve events and kills as auditd 3.0.9 wrote them on kernel 6.18, every record
              with its interpretations after \x1d): execve noise with one signal event per
              139 events, as on a busy host logging execve

  make-logs.py --signal-dense N OUT   writes only signal-dense.log's records to OUT
  make-logs.py --enriched SIZE OUT    writes only enriched.log's records to OUT
"""
import gzip, os, re, sys

def events_of(path):
    groups, order = {}, []
    for line in (gzip.open if path.endswith(".gz") else open)(path, "rt", encoding="latin-1"):
        line = line.rstrip("\n")
        m = re.search(r"audit\(\d+\.\d+:\d+\)", line)
        if not re.match(r"(node=\S+ )?type=", line) or not m:
            continue
        groups.setdefault(m.group(0), []).append(line)
        if m.group(0) not in order:
            order.append(m.group(0))
    return [groups[k] for k in order]

def signal_event(i, unique=False):
    pid = 2000 + (i % 4_000_000 if unique else i % 30000)
    comm = ["java", "postgres", "nginx", "python3", "sleep"][i % 5]
    sender = ["bash", "systemd", "kill", "cleanup.sh"][i % 4]
    argv = (f"kill\0-9\0{pid}" if unique else f"{sender}\0-9\0{pid}").encode().hex().upper()
    return [
        f"type=SYSCALL msg=STAMP: arch=c000003e syscall=62 success=yes exit=0 a0={pid:x} a1=9 a2=0 a3=0 "
        f"items=0 ppid=1 pid={100 + i % 500} auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        f"fsgid=0 tty=pts0 ses=3 comm=\"{sender}\" exe=\"/usr/bin/{sender}\" key=\"killdb\"",
        f"type=OBJ_PID msg=STAMP: opid={pid} oauid=-1 ouid=998 oses=-1 ocomm=\"{comm}\"",
        f"type=PROCTITLE msg=STAMP: proctitle={argv}",
    ]

def write(path, size_limit, count_limit, noise, every, step, unique=False):
    t, serial, n, size, signals = 1_700_000_000.0, 1000, 0, 0, 0
    with open(path, "w", encoding="latin-1") as out:
        while size < size_limit and signals < count_limit:
            serial += 1
            t += step
            stamp = "audit(%d.%03d:%d)" % (int(t), int(t * 1000) % 1000, serial)
            if noise is None or n % every == 0:
                group = signal_event(signals, unique)
                signals += 1
            else:
                group = noise[n % len(noise)]
            n += 1
            for line in group:
                line = re.sub(r"audit\(\d+\.\d+:\d+\)|STAMP", stamp, line, count=1)
                out.write(line + "\n")
                size += len(line) + 1
    return n, signals, size

def write_enriched(path, size_limit):
    """The sample's events repeated in order with shifted stamps; its signal events (kill,
    OBJ_PID, PROCTITLE) spread one per 139 events."""
    here = os.path.dirname(os.path.abspath(__file__))
    sample = events_of(os.path.join(here, "enriched-sample.log.gz"))
    signals = [g for g in sample if any(" syscall=62 " in l for l in g)]
    noise = [g for g in sample if g not in signals]
    t, serial, n, s, size = 1_700_000_000.0, 1000, 0, 0, 0
    with open(path, "w", encoding="latin-1") as out:
        while size < size_limit:
            serial += 1
            t += 0.0007
            stamp = "audit(%d.%03d:%d)" % (int(t), int(t * 1000) % 1000, serial)
            if n % 139 == 0:
                group = signals[s % len(signals)]
                s += 1
            else:
                group = noise[n % len(noise)]
            n += 1
            for line in group:
                line = re.sub(r"audit\(\d+\.\d+:\d+\)", stamp, line, count=1)
                out.write(line + "\n")
                size += len(line) + 1
    return n, s, size

def write_wide(path, targets):
    stamp = "audit(1700000000.000:77)"
    with open(path, "w", encoding="latin-1") as out:
        out.write(f"type=SYSCALL msg={stamp}: arch=c000003e syscall=62 success=yes exit=0 a0=ffffffffffffffff "
                  "a1=9 a2=0 a3=0 items=0 ppid=1 pid=4242 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
                  "fsgid=0 tty=pts0 ses=3 comm=\"kill\" exe=\"/usr/bin/kill\" key=\"killdb\"\n")
        for pid in range(2, targets + 2):
            out.write(f"type=OBJ_PID msg={stamp}: opid={pid} oauid=-1 ouid=0 oses=-1 ocomm=\"w{pid % 97}\"\n")
        out.write(f"type=PROCTITLE msg={stamp}: proctitle=6B696C6C002D39002D31\n")

if __name__ == "__main__" and sys.argv[1] == "--signal-dense":
    n, s, size = write(sys.argv[3], 1 << 62, int(sys.argv[2]), None, 1, 0.001, unique=True)
    print(f"signal-dense: {size / 1e6:.0f} MB, {s} signal events")
elif __name__ == "__main__" and sys.argv[1] == "--enriched":
    n, s, size = write_enriched(sys.argv[3], int(sys.argv[2]) * 1_000_000)
    print(f"enriched: {size / 1e6:.0f} MB, {n} events, {s} signal events")
elif __name__ == "__main__" and sys.argv[1] == "--wide":
    write_wide(sys.argv[3], int(sys.argv[2]))
elif __name__ == "__main__":
    corpus, outdir, mb, dense = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    noise = []
    for name in ["laurel/proc-trace-dpkg-l.txt", "laurel/shell-proc-trace.txt", "go-libaudit/normal.log",
                 "audit-userspace/test4.log", "SPADE/kill.bin.log"]:
        noise += [g for g in events_of(os.path.join(corpus, name)) if not any("syscall=62 " in l for l in g)]
    n, s, size = write(os.path.join(outdir, "mixed.log"), mb * 1_000_000, 1 << 62, noise, 1000, 0.0007)
    print(f"mixed.log: {size / 1e6:.0f} MB, {n} events, {s} signal events")
    n, s, size = write(os.path.join(outdir, "dense.log"), 1 << 62, dense, None, 1, 30.0)
    print(f"dense.log: {size / 1e6:.0f} MB, {s} signal events")
    n, s, size = write(os.path.join(outdir, "signal-dense.log"), 1 << 62, dense // 5, None, 1, 0.001, unique=True)
    print(f"signal-dense.log: {size / 1e6:.0f} MB, {s} signal events")
    write_wide(os.path.join(outdir, "wide.log"), 100_000)
