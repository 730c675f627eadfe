#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpus (fuzz/corpus/<target>/) from the simulator's answers.

    cargo build -p pim-sim && python3 fuzz/seed_corpus.py target/debug/pim-sim

Starts pim-sim (demo scenario), signs in with the device-code flow, and saves what the
authority, Graph (single GETs and $batch) and ARM answer to the requests PIM Tray makes,
plus the answers to injected faults (429 with Retry-After, claims challenges, 403 policy
errors, 5xx). Dates, durations, policy rules, JWTs, Retry-After/Date headers and loopback
redirects are cut out of those answers for their own targets. The config files (accounts,
settings, tenant cache) and keychain parts have no simulator answer: they are written in
the shapes the code writes. Deterministic file names (a hash of the content); existing
files are kept.
"""

import base64
import hashlib
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")
GRAPH_SCOPE = "https://graph.microsoft.com/.default offline_access openid profile"
ARM_SCOPE = "https://management.azure.com/.default offline_access"
CLIENT = "14d82eec-204b-4c2f-b7e8-296a70dab67e"  # pim_core::config::DEFAULT_CLIENT_ID


def save(target, data):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    name = hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def call(method, url, body=None, headers=None, form=None):
    h = dict(headers or {})
    data = None
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        h["Content-Type"] = "application/x-www-form-urlencoded"
    elif body is not None:
        data = json.dumps(body).encode()
        h["Content-Type"] = "application/json"
    req = urllib.request.Request(url, data=data, headers=h, method=method)
    try:
        r = OPENER.open(req, timeout=30)
        return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def status_prefixed(status, body):
    return status.to_bytes(2, "big") + body


def harvest(body):
    """Dates, durations and rules inside a JSON answer, each to its target."""
    text = body.decode("utf-8", "replace")
    for m in set(re.findall(r'"(\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)?)"', text)):
        save("datetime", m)
    for m in set(re.findall(r'"(P(?:\d+D)?(?:T[0-9.HMS]+)?)"', text)):
        save("duration", m)
    try:
        v = json.loads(body)
    except ValueError:
        return

    def walk(x):
        if isinstance(x, dict):
            for k in ("rules", "effectiveRules"):
                if isinstance(x.get(k), list) and x[k]:
                    save("policy_rules", json.dumps(x[k]))
            for y in x.values():
                walk(y)
        elif isinstance(x, list):
            for y in x:
                walk(y)

    walk(v)


def main():
    sim_bin = sys.argv[1] if len(sys.argv) > 1 else "target/debug/pim-sim"
    sim = subprocess.Popen([sim_bin, "--page-size", "3"], stdout=subprocess.PIPE, text=True)
    try:
        line = sim.stdout.readline().split()
        assert line[:1] == ["PIM_SIM_READY"], line
        run(line[1].rstrip("/"))
    finally:
        sim.terminate()
        sim.wait()


def sign_in(base, scope):
    st, _, b = call("POST", f"{base}/organizations/oauth2/v2.0/devicecode",
                    form={"client_id": CLIENT, "scope": scope})
    save("entra_response", status_prefixed(st, b))
    dc = json.loads(b)
    # Polling before approval: authorization_pending.
    tok_form = {"client_id": CLIENT, "grant_type": "urn:ietf:params:oauth:grant-type:device_code",
                "device_code": dc["device_code"]}
    st, _, b = call("POST", f"{base}/organizations/oauth2/v2.0/token", form=tok_form)
    save("entra_response", status_prefixed(st, b))
    call("POST", f"{base}/_sim/devicecode/{dc['user_code']}/approve")
    st, _, b = call("POST", f"{base}/organizations/oauth2/v2.0/token", form=tok_form)
    tok = json.loads(b)
    # Token responses with the secrets replaced (same shape); the JWTs go to jwt_claims.
    shape = dict(tok)
    for k in ("access_token", "refresh_token"):
        if k in shape:
            shape[k] = "x" * 16
    save("entra_response", status_prefixed(st, json.dumps(shape).encode()))
    for k in ("id_token", "access_token"):
        if k in tok:
            save("jwt_claims", tok[k])
    # A used device code and a bad refresh token: Entra error bodies.
    st, _, b = call("POST", f"{base}/organizations/oauth2/v2.0/token", form=tok_form)
    save("entra_response", status_prefixed(st, b))
    st, _, b = call("POST", f"{base}/organizations/oauth2/v2.0/token",
                    form={"client_id": CLIENT, "grant_type": "refresh_token",
                          "refresh_token": "not-a-token", "scope": scope})
    save("entra_response", status_prefixed(st, b))
    return tok


def run(base):
    graph = sign_in(base, GRAPH_SCOPE)
    arm = sign_in(base, ARM_SCOPE)
    gh = {"Authorization": f"Bearer {graph['access_token']}"}
    ah = {"Authorization": f"Bearer {arm['access_token']}"}

    # The loopback redirect an authorize request ends in.
    q = urllib.parse.urlencode({"client_id": CLIENT, "response_type": "code",
                                "redirect_uri": "http://localhost:51234", "state": "fuzz-state",
                                "scope": GRAPH_SCOPE, "code_challenge": "x" * 43,
                                "code_challenge_method": "S256"})
    st, h, b = call("GET", f"{base}/organizations/oauth2/v2.0/authorize?{q}")
    loc = h.get("Location") or h.get("location")
    if loc:
        u = urllib.parse.urlsplit(loc)
        save("loopback_request",
             f"GET /?{u.query} HTTP/1.1\r\nHost: localhost:51234\r\nUser-Agent: Mozilla/5.0\r\n\r\n")
    save("loopback_request", "GET /?error=access_denied&error_description=AADSTS65004%3A+"
         "User+declined&error_subcode=cancel&state=fuzz-state HTTP/1.1\r\nHost: localhost\r\n\r\n")
    save("loopback_request", "GET /favicon.ico HTTP/1.1\r\nHost: localhost\r\n\r\n")

    g = f"{base}/v1.0"
    graph_paths = [
        "/me?$select=id,displayName,userPrincipalName",
        "/roleManagement/directory/roleEligibilityScheduleInstances/filterByCurrentUser(on='principal')?$expand=roleDefinition,directoryScope",
        "/roleManagement/directory/roleAssignmentScheduleInstances/filterByCurrentUser(on='principal')?$expand=roleDefinition,directoryScope",
        "/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on='principal')",
        "/identityGovernance/privilegedAccess/group/eligibilityScheduleInstances/filterByCurrentUser(on='principal')?$expand=group",
        "/identityGovernance/privilegedAccess/group/assignmentScheduleInstances/filterByCurrentUser(on='principal')?$expand=group",
        "/identityGovernance/privilegedAccess/group/assignmentScheduleRequests/filterByCurrentUser(on='principal')",
        "/policies/roleManagementPolicyAssignments?$filter=scopeId%20eq%20'/'%20and%20scopeType%20eq%20'DirectoryRole'&$expand=policy($expand=rules)",
        "/roleManagement/directory/roleDefinitions?$select=id,displayName",
        "/nothing/here",
    ]
    for p in graph_paths:
        st, h, b = call("GET", g + p, headers=gh)
        save("page" if st < 300 else "http_error", b if st < 300 else status_prefixed(st, b))
        if st < 300 and len(b) > 8192:  # a short page as well: the fuzzer runs it faster
            page = json.loads(b)
            page["value"] = page.get("value", [])[:2]
            save("page", json.dumps(page))
        harvest(b)
        if "Date" in h:
            save("retry_after", h["Date"])
    requests = [{"id": str(i), "method": "GET", "url": p} for i, p in enumerate(graph_paths)]
    st, _, b = call("POST", g + "/$batch", body={"requests": requests}, headers=gh)
    harvest(b)
    # Small batches (one or two requests each): a 30 KB seed runs under a thousand inputs a
    # second, these run ten times as many.
    for i in range(0, len(requests), 2):
        st, _, b = call("POST", g + "/$batch", body={"requests": requests[i:i + 2]}, headers=gh)
        save("batch", b)

    arm_paths = [
        "/tenants?api-version=2020-01-01",
        "/providers/Microsoft.Authorization/roleEligibilityScheduleInstances?api-version=2020-10-01&$filter=asTarget()",
        "/providers/Microsoft.Authorization/roleAssignmentScheduleInstances?api-version=2020-10-01&$filter=asTarget()",
        "/providers/Microsoft.Authorization/roleAssignmentScheduleRequests?api-version=2020-10-01&$filter=asRequestor()",
        "/providers/Microsoft.Authorization/roleManagementPolicyAssignments?api-version=2020-10-01",
        "/providers/Microsoft.Authorization/nothing?api-version=2020-10-01",
    ]
    for p in arm_paths:
        st, _, b = call("GET", base + p, headers=ah)
        save("page" if st < 300 else "http_error", b if st < 300 else status_prefixed(st, b))
        harvest(b)

    # Faults: throttling, claims challenges, service errors (Graph and ARM shapes).
    faults = [
        {"kind": "status", "status": 429, "retryAfter": "2"},
        {"kind": "status", "status": 429, "retryAfter": "0.5"},
        {"kind": "status", "status": 503, "retryAfter": "Thu, 26 Nov 2026 04:06:30 GMT"},
        {"kind": "status", "status": 500, "wrapped": True},
        {"kind": "status", "status": 403, "code": "RoleAssignmentRequestPolicyValidationFailed",
         "message": "The following policy rules failed: [\"JustificationRule\",\"ExpirationRule\"]"},
        {"kind": "status", "status": 400, "code": "RoleAssignmentRequestAcrsValidationFailed",
         "message": "The Authentication Context claims are missing: &claims=%7B%22access_token%22%3A%7B%22acrs%22%3A%7B%22essential%22%3Atrue%2C%22value%22%3A%22c1%22%7D%7D%7D"},
        {"kind": "claimsChallenge",
         "claims": "{\"access_token\":{\"nbf\":{\"essential\":true,\"value\":\"1795665990\"}}}"},
    ]
    for f in faults:
        for url, hdr in ((g + graph_paths[1], gh), (base + arm_paths[1], ah)):
            call("DELETE", f"{base}/_sim/faults")
            call("POST", f"{base}/_sim/faults", body={"fault": f, "times": 1})
            st, h, b = call("GET", url, headers=hdr)
            save("http_error", status_prefixed(st, b))
            for k, v in h.items():
                if k.lower() == "retry-after":
                    save("retry_after", v)
                if k.lower() == "www-authenticate":
                    save("claims_challenge", v)
    # A throttled item inside a $batch.
    call("DELETE", f"{base}/_sim/faults")
    call("POST", f"{base}/_sim/faults",
         body={"fault": faults[0], "path": graph_paths[1].split("?")[0], "times": 1})
    st, _, b = call("POST", g + "/$batch", body={"requests": requests[:3]}, headers=gh)
    save("batch", b)
    call("DELETE", f"{base}/_sim/faults")

    # Config files (first byte: 0 accounts.json, 1 tray-settings.json, 2 tenants.json).
    me = json.loads(call("GET", g + "/me", headers=gh)[2])
    account = {"upn": me.get("userPrincipalName", "u"), "name": me.get("displayName", "d"),
               "oid": me.get("id", "o"), "homeTenantId": "t", "cloud": "public",
               "clientId": CLIENT, "authorityHost": base + "/", "kind": "deviceCode",
               "graphEndpoint": base + "/", "hiddenTenants": ["x"]}
    save("config_files", b"\x00" + json.dumps({"version": 1, "defaultAccount": "k",
                                                "accounts": [account]}, indent=2).encode())
    save("config_files", b"\x01" + json.dumps({"version": 1, "reminderMinutes": [15, 5],
                                                "defaultDurationMinutes": 60, "cloud": "public",
                                                "iconTheme": "auto",
                                                "justifications": {"k": "INC-1"}}).encode())
    tenants = json.loads(call("GET", base + arm_paths[0], headers=ah)[2]).get("value", [])
    cache = {"version": 1, "accounts": {"k": [
        {"id": t.get("tenantId", "t"), "displayName": t.get("displayName", ""),
         "defaultDomain": t.get("defaultDomain"), "domains": t.get("domains", []),
         "isHome": i == 0}
        for i, t in enumerate(tenants)]}}
    save("config_files", b"\x02" + json.dumps(cache).encode())

    # Keychain entries as write_chunked leaves them: header, 0xFF, part 0, 0xFF, part 1...
    secret = (graph.get("refresh_token") or "r" * 16).encode()
    secret = (secret * (5000 // len(secret) + 1))[:5000]
    parts = [secret[i:i + 2400] for i in range(0, len(secret), 2400)]
    header = json.dumps({"v": 1, "n": len(parts), "len": len(secret),
                         "sha256": hashlib.sha256(secret).hexdigest()}).encode()
    save("read_chunked", b"\xff".join([header] + parts))
    save("read_chunked", b"0.AAAA-short-token")
    for s in ("PT1H", "PT8H", "P1D", "PT30M", "1h30m", "90m", "2d", "PT0.5H", "45s", "1h 30m", "60"):
        save("duration", s)

    # The window processes' lines (first byte: 0 a first line, 1 a call or an answer, 2 what a
    # window process writes), with the key of the simulator's first eligible directory role.
    elig = json.loads(call("GET", g + graph_paths[1], headers=gh)[2]).get("value", [])
    first = elig[0] if elig else {}
    tenant = tenants[0].get("tenantId", "t") if tenants else "t"
    key = "|".join(["entraRole", tenant.lower(), first.get("roleDefinitionId", "r").lower(),
                    first.get("directoryScopeId", "/").rstrip("/"), ""])
    name = (first.get("roleDefinition") or {}).get("displayName", "Role")

    def line(x):
        return json.dumps(x, separators=(",", ":"), ensure_ascii=False)

    save("window_ipc", b"\x00" + line({"window": "activate", "role": key,
                                       "title": f"Activate {name} \u2014 PIM Tray"}).encode())
    save("window_ipc", b"\x00" + line({"window": "settings", "title": "PIM Tray settings"}).encode())
    save("window_ipc", b"\x00" + line({"window": "approval", "approval": f"entra:{tenant}:a%3A1",
                                       "title": "Approve or deny: Alex Wilber \u2014 PIM Tray"}).encode())
    save("window_ipc", b"\x00" + key.encode() + b"\x00Activate " + name.encode())
    calls = [
        {"id": 0, "cmd": "get_activation_form", "args": {"roleKey": key}},
        {"id": 1, "cmd": "activate_role", "args": {"request": {
            "roleKey": key, "justification": "INC-4711 patching", "ticketNumber": "INC-4711",
            "ticketSystem": "ServiceNow", "durationMinutes": 60}}},
        {"id": 2, "cmd": "activation_progress", "args": {"seen": None}},
        {"id": 3, "cmd": "save_settings", "args": {"settings": {"reminderMinutes": [15, 5]}}},
        {"id": 4, "cmd": "set_tenant_shown", "args": {"key": "k", "tenantId": tenant,
                                                      "shown": False}},
        {"id": 5, "cmd": "decide_approval", "args": {"request": {
            "id": f"group:{tenant}:a1", "decision": "deny", "justification": "Not in the change window"}}},
    ]
    answers = [
        {"id": 0, "ok": {"role": {"key": key, "title": name}, "maxDurationMinutes": 480}},
        {"id": 1, "err": {"code": "policyViolation",
                          "message": "Justification is required by this role's policy."}},
        {"id": 2, "ok": None},
    ]
    for x in calls + answers:
        save("window_ipc", b"\x01" + line(x).encode())
    save("window_ipc", b"\x02" + "".join(line(c) + "\n" for c in calls).encode())
    save("window_ipc", b"\x02" + line(calls[0]).encode() + b"\nnot json\n" + b"x" * 600)


if __name__ == "__main__":
    main()
