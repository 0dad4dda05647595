#!/usr/bin/env python3
"""The peer of pactum's load benchmark: Python `eventsourcing` on SQLite, plus the raw limit.

What it measures, in one run and on the same disk:

1. **peer** — the Python `eventsourcing` library (PyPI; the most used event-sourcing
   library outside the JVM), version 9.5.6, running pactum's order flow: for each new
   order, submit -> assign -> public comment -> approve. Every command loads the
   aggregate from the repository (replaying its events; no aggregate cache), decides
   (the same basic rules as pactum's Order aggregate) and `save()`s the new event: one
   SQLite transaction per command. Reported as commands per second (4 per order).
2. **raw** — the physical limit of the same durability: one INSERT of a pactum-sized
   event row (pactum's `events` columns, ~400-byte JSON payload, 64-hex SHA-256 hash)
   per durable transaction, with Python's `sqlite3` and nothing else. And, to show
   what batching buys, 100 such rows per transaction.

Durability is the same as pactum's SQLite store (src/store/mod.rs): WAL journal and
`synchronous=FULL`, so every commit waits for an fsync of the WAL. The script prints
the `journal_mode` and `synchronous` values each connection actually runs with.

Why in-process: pactum is measured through its HTTP API (axum, JSON, auth, inline
projections, hash chain); the peer is driven by direct method calls, with no HTTP,
no serialisation of requests, no authorisation and no hash chain. The comparison
therefore favours the peer: whatever pactum achieves above it is not bought by
skipping work.

Run (from the repository root; it sets itself up on first use):

    python3 benches/peer_eventsourcing.py            # 10 s per measurement
    python3 benches/peer_eventsourcing.py --quick    # 3 s per measurement
    python3 benches/peer_eventsourcing.py --seconds 20 --threads 2 --dir target/tmp

If `eventsourcing` is not importable, it creates a venv at target/bench-venv, installs
eventsourcing==9.5.6 there (or the newest 9.x if that is unavailable) and re-executes
itself with the venv's Python. Debian's Python needs the `python3-venv` package for
that; without it the script exits with status 2 and says so.

Output: human-readable lines on stderr, and exactly one JSON line on stdout:

    {"peer": "eventsourcing 9.5.6", "peer_commands_per_s": 331.2, "peer_orders": 828,
     "peer_commands": 3312, "peer_threads": 1, "peer_p50_ms": ..., "peer_p99_ms": ...,
     "peer_journal_mode": "wal", "peer_synchronous": 2, "raw_rows_per_s": ...,
     "raw_rows_per_s_batch100": ..., "sqlite": "3.40.1", "python": "3.11.7",
     "seconds": 10.0}

(`synchronous` 2 = FULL; `raw_rows_per_s_batch100` is null with --no-batch.)
"""

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

PEER_VERSION = "9.5.6"
REPO = Path(__file__).resolve().parent.parent
VENV = REPO / "target" / "bench-venv"


def log(*parts):
    print(*parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------
# Self set-up: a private venv with eventsourcing, then re-exec with its Python.
# --------------------------------------------------------------------------------------


def ensure_eventsourcing():
    try:
        import eventsourcing  # noqa: F401

        return
    except ImportError:
        pass
    venv_python = VENV / "bin" / "python"
    if os.environ.get("PACTUM_PEER_REEXEC") == "1":
        log(f"peer: eventsourcing still not importable with {sys.executable}; giving up")
        sys.exit(2)
    if not venv_python.exists():
        # Debian splits venv's pip bootstrap (ensurepip) into python3-venv: the `venv`
        # module imports fine and `-m venv --help` works, but creating one fails.
        try:
            import ensurepip  # noqa: F401
            import venv  # noqa: F401
        except ImportError:
            missing_venv(None)
        log(f"peer: creating {VENV.relative_to(REPO)} with {sys.executable}")
        made = subprocess.run(
            [sys.executable, "-m", "venv", str(VENV)], stderr=subprocess.PIPE, text=True
        )
        if made.returncode != 0 or not venv_python.exists():
            shutil.rmtree(VENV, ignore_errors=True)  # don't leave a venv without pip
            missing_venv(made.stderr)
    installed = subprocess.run(
        [str(venv_python), "-c", "import eventsourcing"], stderr=subprocess.DEVNULL
    )
    if installed.returncode != 0:
        pip = [str(venv_python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
        log(f"peer: installing eventsourcing=={PEER_VERSION} into the venv")
        if subprocess.run(pip + [f"eventsourcing=={PEER_VERSION}"]).returncode != 0:
            log(f"peer: eventsourcing=={PEER_VERSION} unavailable; installing the newest 9.x")
            if subprocess.run(pip + ["eventsourcing>=9,<10"]).returncode != 0:
                log("peer: pip could not install eventsourcing (is PyPI reachable?)")
                sys.exit(2)
    env = dict(os.environ, PACTUM_PEER_REEXEC="1")
    os.execve(str(venv_python), [str(venv_python), str(Path(__file__).resolve()), *sys.argv[1:]], env)


def missing_venv(detail):
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    log(
        f"peer: cannot create a virtual environment with {sys.executable}.\n"
        f"      On Debian/Ubuntu install the venv package first:\n"
        f"          apt-get install python3-venv   (or python{version}-venv)\n"
        f"      or install the peer yourself: pip install eventsourcing=={PEER_VERSION}"
    )
    if detail:
        log("      venv said: " + detail.strip().splitlines()[-1])
    sys.exit(2)


if __name__ == "__main__":
    ensure_eventsourcing()

import hashlib  # noqa: E402
import json  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from importlib.metadata import version as dist_version  # noqa: E402

from eventsourcing.application import Application  # noqa: E402
from eventsourcing.domain import Aggregate, event  # noqa: E402

# --------------------------------------------------------------------------------------
# The domain: pactum's Order, reduced to the four commands of the benchmark flow.
# Decisions live in the public methods; the @event methods only apply (they also run
# on replay, when the repository rebuilds the aggregate from stored events).
# --------------------------------------------------------------------------------------


class DomainError(Exception):
    pass


ACCESS_TYPES = {"opportunistic", "guaranteed", "exclusive"}
DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
POSITIVE_INTS = ("cpu_cores", "ram_per_core_gb", "local_disk_gb", "vm_instances", "duration_days")
FINAL = {"approved", "rejected", "cancelled", "active", "closed"}


class Order(Aggregate):
    @classmethod
    def submit(cls, customer, service, title, parameters):
        # Validation, as pactum does for a service's parameter schema.
        if not customer or not service or not title.strip():
            raise DomainError("customer, service and title are required")
        for name in POSITIVE_INTS:
            value = parameters.get(name)
            if not isinstance(value, int) or value <= 0:
                raise DomainError(f"{name} must be a positive integer")
        if parameters.get("access_type") not in ACCESS_TYPES:
            raise DomainError("unknown access_type")
        if not DATE.match(parameters.get("start_date", "")):
            raise DomainError("start_date must be YYYY-MM-DD")
        return cls(customer=customer, service=service, title=title, parameters=parameters)

    @event("Submitted")
    def __init__(self, customer, service, title, parameters):
        self.customer = customer
        self.service = service
        self.title = title
        self.parameters = parameters
        self.status = "submitted"
        self.assignee = None
        self.comments = 0
        self.approval_note = None

    def assign(self, assignee):
        # pactum: any non-final order may be (re)assigned; same assignee = no event.
        if self.status in FINAL:
            raise DomainError(f"cannot assign an order that is {self.status}")
        if self.assignee == assignee:
            return
        self._assigned(assignee=assignee, previous_assignee=self.assignee)

    @event("Assigned")
    def _assigned(self, assignee, previous_assignee):
        self.assignee = assignee
        if self.status == "submitted":
            self.status = "in_review"

    def comment(self, body, visibility):
        if visibility not in ("public", "internal"):
            raise DomainError("visibility must be public or internal")
        if not body.strip():
            raise DomainError("empty comment")
        self._commented(comment_id=self.comments + 1, body=body, visibility=visibility)

    @event("CommentAdded")
    def _commented(self, comment_id, body, visibility):
        self.comments = comment_id

    def approve(self, note):
        # pactum: approve only from submitted / in review; here also only once assigned.
        if self.status not in ("submitted", "in_review"):
            raise DomainError(f"cannot approve an order that is {self.status}")
        if self.assignee is None:
            raise DomainError("cannot approve an unassigned order")
        self._approved(note=note)

    @event("Approved")
    def _approved(self, note):
        self.approval_note = note
        self.status = "approved"


# --------------------------------------------------------------------------------------
# The application. Each command: load from the repository, decide, save().
#
# What eventsourcing 9.5.6's SQLite persistence does (eventsourcing/sqlite.py):
# SQLiteConnectionPool._create_connection() opens each connection in autocommit mode
# (isolation_level=None, check_same_thread=False), issues an explicit BEGIN per
# transaction and, for a file database, switches the file to `journal_mode=WAL`. It
# never sets `synchronous`, so connections run with SQLite's compiled-in default
# (SQLITE_DEFAULT_WAL_SYNCHRONOUS; 2 = FULL in Debian's libsqlite3 3.40.1). To hold the
# peer to pactum's durability whatever the build, construct_factory() below wraps
# the pool's connection factory to issue `PRAGMA synchronous=FULL` on every new
# connection (the pool has created none when construct_factory returns), and records
# the value each connection had before, to report the library's own default.
# --------------------------------------------------------------------------------------


class Orders(Application):
    def construct_factory(self, env):
        factory = super().construct_factory(env)
        pool = factory.datastore.pool
        create = pool._create_connection
        self.default_synchronous = set()

        def create_full_sync():
            conn = create()
            raw = conn._sqlite_conn
            self.default_synchronous.add(raw.execute("PRAGMA synchronous").fetchone()[0])
            raw.execute("PRAGMA synchronous=FULL")
            return conn

        pool._create_connection = create_full_sync
        return factory

    def submit(self, customer, service, title, parameters):
        order = Order.submit(customer, service, title, parameters)
        self.save(order)
        return order.id

    def assign(self, order_id, assignee):
        order = self.repository.get(order_id)
        order.assign(assignee)
        self.save(order)

    def comment(self, order_id, body, visibility="public"):
        order = self.repository.get(order_id)
        order.comment(body, visibility)
        self.save(order)

    def approve(self, order_id, note):
        order = self.repository.get(order_id)
        order.approve(note)
        self.save(order)

    def pragmas(self):
        """(journal_mode, synchronous) of every pooled connection."""
        seen = set()
        for conn in list(self.factory.datastore.pool._pool):
            raw = conn._sqlite_conn
            seen.add(
                (
                    raw.execute("PRAGMA journal_mode").fetchone()[0].lower(),
                    raw.execute("PRAGMA synchronous").fetchone()[0],
                )
            )
        return seen


PARAMETERS = {
    "cpu_cores": 4,
    "ram_per_core_gb": 2,
    "local_disk_gb": 40,
    "vm_instances": 2,
    "access_type": "opportunistic",
    "start_date": "2027-01-04",
    "duration_days": 2,
}


def run_order(app, n):
    """One order through the flow: 4 commands. Returns each command's seconds."""
    t0 = time.perf_counter()
    order_id = app.submit(
        customer="alice@uni.example",
        service="cloud-vm",
        title=f"Course lab VMs #{n}",
        parameters=dict(PARAMETERS),
    )
    t1 = time.perf_counter()
    app.assign(order_id, "shifter-bob")
    t2 = time.perf_counter()
    app.comment(order_id, "Images are ready; we will provision on the start date.", "public")
    t3 = time.perf_counter()
    app.approve(order_id, "Capacity confirmed for the requested window.")
    t4 = time.perf_counter()
    return order_id, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)


def self_check(app):
    """The rules are enforced and the flow replays to the expected state."""
    order_id = app.submit("alice@uni.example", "cloud-vm", "check", dict(PARAMETERS))
    try:
        app.approve(order_id, "too early")
        raise AssertionError("approved an unassigned order")
    except DomainError:
        pass
    try:
        Order.submit("alice@uni.example", "cloud-vm", "bad", dict(PARAMETERS, cpu_cores=0))
        raise AssertionError("accepted cpu_cores=0")
    except DomainError:
        pass
    app.assign(order_id, "shifter-bob")
    app.comment(order_id, "hello")
    app.approve(order_id, "ok")
    try:
        app.assign(order_id, "shifter-carol")
        raise AssertionError("assigned an approved order")
    except DomainError:
        pass
    order = app.repository.get(order_id)
    assert (order.status, order.version, order.comments) == ("approved", 4, 1), order.__dict__


def measure_peer(directory, seconds, threads):
    db = os.path.join(directory, "peer.sqlite")
    app = Orders(env={"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": db})
    self_check(app)
    db_rows_before = count_rows(db, "stored_events")

    latencies = [[] for _ in range(threads)]
    orders = [0] * threads
    errors = []
    start = threading.Barrier(threads + 1)
    deadline = [0.0]

    def worker(k):
        start.wait()
        try:
            n = 0
            while time.perf_counter() < deadline[0]:
                _, took = run_order(app, k * 10_000_000 + n)
                latencies[k].extend(took)
                n += 1
            orders[k] = n
        except Exception as e:  # noqa: BLE001 - reported below, fails the run
            errors.append(repr(e))

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    deadline[0] = time.perf_counter() + seconds
    began = time.perf_counter()
    start.wait()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - began
    if errors:
        raise SystemExit(f"peer: worker failed: {errors[0]}")

    commands = 4 * sum(orders)
    # Every command wrote exactly one event row.
    written = count_rows(db, "stored_events") - db_rows_before
    assert written == commands, (written, commands)
    pragmas = app.pragmas()
    default_sync = sorted(app.default_synchronous)
    app.close()
    all_latencies = sorted(x for per in latencies for x in per)
    return {
        "commands": commands,
        "orders": sum(orders),
        "elapsed": elapsed,
        "p50_ms": 1000 * statistics.median(all_latencies) if all_latencies else None,
        "p99_ms": 1000 * percentile(all_latencies, 0.99) if all_latencies else None,
        "pragmas": pragmas,
        "default_synchronous": default_sync,
    }


def count_rows(db, table):
    with sqlite3.connect(db) as c:
        return c.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]


def percentile(sorted_values, q):
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


# --------------------------------------------------------------------------------------
# The raw limit: pactum's event row, inserted with plain sqlite3, N rows per durable
# transaction, same pragmas as pactum.
# --------------------------------------------------------------------------------------

# pactum's migrations/sqlite/0001_event_log.sql, table `events`.
EVENTS_TABLE = """
CREATE TABLE events (
    position        INTEGER PRIMARY KEY AUTOINCREMENT,
    aggregate_type  TEXT    NOT NULL,
    aggregate_id    TEXT    NOT NULL,
    sequence        INTEGER NOT NULL CHECK (sequence >= 1),
    event_type      TEXT    NOT NULL,
    schema_version  INTEGER NOT NULL,
    recorded_at     INTEGER NOT NULL,
    actor_subject   TEXT    NOT NULL,
    actor_role      TEXT    NOT NULL,
    actor_org       TEXT,
    correlation_id  TEXT    NOT NULL,
    causation_id    TEXT,
    idempotency_key TEXT,
    payload         TEXT    NOT NULL,
    hash            TEXT    NOT NULL,
    UNIQUE (aggregate_type, aggregate_id, sequence)
)
"""
INSERT = (
    "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type, schema_version, "
    "recorded_at, actor_subject, actor_role, actor_org, correlation_id, causation_id, "
    "idempotency_key, payload, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# An OrderSubmitted payload in pactum's shape: compact JSON, keys sorted (~400 bytes).
PAYLOAD = json.dumps(
    {
        "customer": {"org": "uni-example", "subject": "alice@uni.example"},
        "group": "research-computing",
        "note": "Course lab, two VMs for the practical sessions.",
        "order_id": "ord-00000000-0000-0000-0000-000000000000",
        "parameters": PARAMETERS,
        "service": "cloud-vm",
        "source": "portal",
        "submitted_at": "2026-11-20T09:15:00Z",
        "title": "Course lab VMs",
    },
    separators=(",", ":"),
    sort_keys=True,
)


def measure_raw(directory, seconds, rows_per_tx, name):
    db = os.path.join(directory, f"{name}.sqlite")
    conn = sqlite3.connect(db, isolation_level=None)
    journal_mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0].lower()
    conn.execute("PRAGMA synchronous=FULL")
    synchronous = conn.execute("PRAGMA synchronous").fetchone()[0]
    conn.execute(EVENTS_TABLE)
    prev_hash = "0" * 64
    rows = 0
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        conn.execute("BEGIN IMMEDIATE")
        for _ in range(rows_per_tx):
            aggregate_id = str(uuid.uuid4())
            prev_hash = hashlib.sha256((prev_hash + PAYLOAD).encode()).hexdigest()
            conn.execute(
                INSERT,
                (
                    "order", aggregate_id, 1, "OrderSubmitted", 1, time.time_ns() // 1000,
                    "alice@uni.example", "customer", "uni-example", str(uuid.uuid4()),
                    None, None, PAYLOAD, prev_hash,
                ),
            )
        conn.execute("COMMIT")
        rows += rows_per_tx
    elapsed = time.perf_counter() - began
    assert conn.execute("SELECT COUNT(*) FROM events").fetchone()[0] == rows
    conn.close()
    return rows / elapsed, journal_mode, synchronous


SYNC_NAMES = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="per measurement (default 10)")
    parser.add_argument("--quick", action="store_true", help="3 seconds per measurement")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="peer threads sharing one Application (default 1). Correct: the library's "
        "SQLite pool is thread-safe and lets one writer in at a time; each thread "
        "drives its own orders. Still one fsync per command, no group commit.",
    )
    parser.add_argument("--no-batch", action="store_true", help="skip the 100-rows-per-transaction run")
    parser.add_argument("--dir", help="where to put the temporary databases (default: system temp)")
    args = parser.parse_args()
    seconds = 3.0 if args.quick else args.seconds
    if not 1 <= args.threads <= 15:
        parser.error("--threads must be 1..15 (the library's pool gives out at most 15 connections)")

    peer = f"eventsourcing {dist_version('eventsourcing')}"
    log(f"peer: {peer}, Python {sys.version.split()[0]}, SQLite {sqlite3.sqlite_version}, "
        f"{seconds:g} s per measurement")
    with tempfile.TemporaryDirectory(prefix="pactum-peer-", dir=args.dir) as directory:
        result = measure_peer(directory, seconds, args.threads)
        if len(result["pragmas"]) != 1:
            raise SystemExit(f"peer: connections disagree on pragmas: {result['pragmas']}")
        (journal_mode, synchronous), = result["pragmas"]
        if (journal_mode, synchronous) != ("wal", 2):
            raise SystemExit(f"peer: not WAL + FULL: {journal_mode}, {synchronous}")
        peer_rate = result["commands"] / result["elapsed"]
        defaults = "/".join(SYNC_NAMES.get(s, str(s)) for s in result["default_synchronous"])
        log(f"peer: journal_mode={journal_mode} synchronous={synchronous} "
            f"({SYNC_NAMES[synchronous]}; library default on this build: {defaults})")
        log(f"peer: {result['orders']} orders, {result['commands']} commands in "
            f"{result['elapsed']:.2f} s with {args.threads} thread(s): {peer_rate:,.0f} commands/s "
            f"(p50 {result['p50_ms']:.2f} ms, p99 {result['p99_ms']:.2f} ms per command)")

        raw_rate, raw_mode, raw_sync = measure_raw(directory, seconds, 1, "raw")
        log(f"raw:  1 row per transaction ({raw_mode}, synchronous={raw_sync}): "
            f"{raw_rate:,.0f} rows/s")
        batch_rate = None
        if not args.no_batch:
            batch_rate, _, _ = measure_raw(directory, seconds, 100, "raw_batch")
            log(f"raw:  100 rows per transaction: {batch_rate:,.0f} rows/s")

    print(json.dumps({
        "peer": peer,
        "peer_commands_per_s": round(peer_rate, 1),
        "peer_orders": result["orders"],
        "peer_commands": result["commands"],
        "peer_threads": args.threads,
        "peer_p50_ms": round(result["p50_ms"], 3),
        "peer_p99_ms": round(result["p99_ms"], 3),
        "peer_journal_mode": journal_mode,
        "peer_synchronous": synchronous,
        "raw_rows_per_s": round(raw_rate, 1),
        "raw_rows_per_s_batch100": None if batch_rate is None else round(batch_rate, 1),
        "sqlite": sqlite3.sqlite_version,
        "python": sys.version.split()[0],
        "seconds": seconds,
    }), flush=True)


if __name__ == "__main__":
    main()
