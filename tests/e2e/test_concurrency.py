"""Many clients at once, each on its own connection (runs last: a failure here can leave
tenantd's workers tied up for a while and would disturb the tests after it)."""

import json
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

CLIENTS = 12      # several times tenantd's workers (2 in ./scripts/test)
REQUESTS = 15
TIMEOUT = 5       # seconds; a /healthz answer normally takes a few milliseconds


def _client(url):
    """REQUESTS sequential requests on one keep-alive connection; stops at the first failure."""
    s = requests.Session()
    for i in range(REQUESTS):
        t0 = time.monotonic()
        try:
            r = s.get(url, timeout=TIMEOUT)
        except requests.RequestException as e:
            return f"request {i + 1}: {type(e).__name__} after {time.monotonic() - t0:.1f} s"
        if r.status_code != 200:
            return f"request {i + 1}: HTTP {r.status_code}"
    return None


def _log_lines(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read().splitlines()


@pytest.mark.run_last
def test_request_log_lines_stay_whole_under_concurrency(stack):
    """One JSON line per request in tenantd's log, also when several workers log at once."""
    if not stack.log or not os.path.exists(stack.log):
        pytest.skip("tenantd's log is not reachable (set TENANTD_LOG)")
    start = len(_log_lines(stack.log))
    tag = uuid.uuid4().hex[:8]

    def client(n):
        s = requests.Session()
        served = []
        end = time.monotonic() + 10
        for i in range(400):
            if time.monotonic() > end:
                break
            rid = f"log-{tag}-{n}-{i}"
            try:
                if s.get(stack.url + "/healthz", headers={"X-Request-Id": rid}, timeout=1).status_code == 200:
                    served.append(rid)
            except requests.RequestException:
                s = requests.Session()  # stalls are the next test's business
        return served

    with ThreadPoolExecutor(6) as ex:
        sent = [rid for ids in ex.map(client, range(6)) for rid in ids]
    assert sent, "no request was served at all"

    deadline = time.monotonic() + 3
    while True:
        lines = _log_lines(stack.log)[start:]
        logged, broken = {}, []
        for line in lines:
            if tag not in line:
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                broken.append(line)
                continue
            rid = entry.get("requestId") if isinstance(entry, dict) else None
            logged[rid] = logged.get(rid, 0) + 1
        missing = [rid for rid in sent if logged.get(rid) != 1]
        if not missing or broken or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert not broken, f"{len(broken)} log lines are not JSON, e.g. {broken[:3]}"
    assert not missing, f"{len(missing)} of {len(sent)} requests not logged exactly once, e.g. {missing[:3]}"


@pytest.mark.run_last
def test_concurrent_clients_are_all_served_promptly(stack):
    url = stack.url + "/healthz"
    with ThreadPoolExecutor(CLIENTS) as ex:
        failures = [f for f in ex.map(_client, [url] * CLIENTS) if f]
    assert not failures, (f"{len(failures)} of {CLIENTS} concurrent clients were not served within {TIMEOUT} s: "
                          f"{failures}")
    # And afterwards, fresh connections are served at once.
    for i in range(8):
        r = requests.get(url, timeout=TIMEOUT)
        assert r.status_code == 200, f"fresh connection {i + 1}: HTTP {r.status_code}"
