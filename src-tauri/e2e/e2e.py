#!/usr/bin/python3
"""Headless end-to-end tests of the real `pim-tray --demo` binary.

Run through run.sh (which starts Xvfb). Each phase runs in its own private D-Bus session
(dbus-run-session) with an unlocked throwaway gnome-keyring, a StatusNotifierWatcher and a
notification server, and fresh HOME / XDG / TMPDIR / PIM_CONFIG_DIR folders:

- phase "tray": the tray menu read and clicked through com.canonical.dbusmenu, the expiry
  reminder recorded by our fake notification server (fake_notifyd.py), Deactivate through
  ActionInvoked, then Activate again from the "ended" notice (the same justification and
  duration sent) and Snooze on its reminder, the refresh token in the Secret Service and
  nowhere else, single instance, no webview at idle, Quit and SIGTERM.
- phase "webview": the activation window driven through tauri-driver + WebKitWebDriver, then
  the role seen active in the tray menu; dunst renders the reminder for a screenshot.
- phase "signin": the tray without --demo against a separate pim-sim (PIM_* variables): the
  browser sign-in (BROWSER), device codes approved, declined and expired.
- phase "accounts": two accounts from two simulators (tenants) side by side, one signed out,
  the other back after a restart.

Prints one line per test and finally `N passed, M failed`; exits non-zero on failure.
Needs /usr/bin/python3 with python3-dbus (Debian), see setup.sh.
"""
import argparse
import base64
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
PY = "/usr/bin/python3"


# ---------------------------------------------------------------- results

class Results:
    def __init__(self, path):
        self.path = path

    def record(self, name, ok, detail=""):
        line = {"name": name, "ok": ok, "detail": detail}
        with open(self.path, "a") as f:
            f.write(json.dumps(line) + "\n")
        print(("PASS " if ok else "FAIL ") + name + ("" if ok else f": {detail}"), flush=True)

    def run(self, name, fn, *args):
        try:
            fn(*args)
            self.record(name, True)
            return True
        except Exception as e:  # noqa: BLE001 - every failure is a test failure
            self.record(name, False, f"{type(e).__name__}: {e}")
            return False


def wait_for(pred, timeout, what, interval=0.2):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            v = pred()
            if v:
                return v
        except Exception as e:  # noqa: BLE001
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}" + (f" (last error: {last})" if last else ""))


def sh(*args, check=True, timeout=20, **kw):
    return subprocess.run(list(args), check=check, timeout=timeout, capture_output=True, text=True, **kw)


# ---------------------------------------------------------------- tray (dbusmenu)

class Tray:
    def __init__(self):
        self.svc = None
        self.menu = None

    def find_item(self):
        out = sh("busctl", "--user", "--json=short", "get-property", "org.kde.StatusNotifierWatcher",
                 "/StatusNotifierWatcher", "org.kde.StatusNotifierWatcher", "RegisteredStatusNotifierItems",
                 check=False)
        if out.returncode != 0:
            return False
        items = json.loads(out.stdout)["data"]
        if not items:
            return False
        svc = items[0].split("/")[0]
        tree = sh("busctl", "--user", "tree", "--list", svc).stdout.split()
        menus = [p for p in tree if re.match(r"^/org/ayatana/NotificationItem/[^/]*/Menu$", p)]
        if not menus:
            return False
        self.svc, self.menu = svc, menus[0]
        self.item = menus[0][: -len("/Menu")]
        return True

    def icon_pixel(self, x, y):
        """(r, g, b, a) of the tray icon's pixel x,y, the icon scaled to 64 px."""
        out = sh("busctl", "--user", "--json=short", "get-property", self.svc, self.item,
                 "org.kde.StatusNotifierItem", "IconName")
        path = json.loads(out.stdout)["data"]
        px = sh("convert", path, "-resize", "64x64!", "-format",
                ",".join(f"%[fx:int(255*p{{{x},{y}}}.{c})]" for c in "rgba"), "info:").stdout
        return tuple(int(v) for v in px.split(","))

    def icon_badge_is_green(self):
        """Whether the tray icon shows the green "active" badge (pixel 50,50 of the 64 px icon)."""
        r, g, b, a = self.icon_pixel(50, 50)
        return a > 128 and g > 150 and r < 120 and b < 160

    def icon_has_inbox_badge(self):
        """Whether the tray icon shows the amber "approvals wait" badge (pixel 52,12 of 64 px)."""
        r, g, b, a = self.icon_pixel(52, 12)
        return a > 128 and r > 200 and 120 < g < 210 and b < 100

    def layout(self):
        out = sh("busctl", "--user", "--json=short", "--", "call", self.svc, self.menu,
                 "com.canonical.dbusmenu", "GetLayout", "iias", "0", "-1", "0")
        root = json.loads(out.stdout)["data"][1]

        def conv(n):
            props = n[1]
            return {
                "id": n[0],
                "label": props.get("label", {}).get("data", "").replace("_", "") if props.get("label") else "",
                "enabled": props.get("enabled", {}).get("data", True),
                "children": [conv(c["data"]) for c in n[2]],
            }
        return conv(root)

    @staticmethod
    def labels(node, prefix=""):
        out = []
        for c in node["children"]:
            out.append(prefix + c["label"] + ("" if c["enabled"] else " (disabled)"))
            out.extend(Tray.labels(c, prefix + c["label"] + " > "))
        return out

    @staticmethod
    def find(node, *path):
        """Finds a node by a path of label prefixes, searching the whole tree for the first."""
        def search(n, label):
            for c in n["children"]:
                if c["label"].startswith(label):
                    return c
            for c in n["children"]:
                r = search(c, label)
                if r:
                    return r
            return None
        cur = node
        for i, label in enumerate(path):
            nxt = search(cur, label) if i == 0 else next((c for c in cur["children"] if c["label"].startswith(label)), None)
            if nxt is None:
                return None
            cur = nxt
        return cur

    def click(self, *path):
        node = self.find(self.layout(), *path)
        assert node is not None, f"no menu item {' > '.join(path)}"
        assert node["enabled"], f"menu item {' > '.join(path)} is disabled"
        sh("busctl", "--user", "call", self.svc, self.menu, "com.canonical.dbusmenu", "Event", "isvu",
           str(node["id"]), "clicked", "s", "", "0")
        return node


# ---------------------------------------------------------------- processes

def descendants(pid):
    children = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            with open(f"/proc/{p}/comm") as f:
                comm = f.read().strip()
        except (OSError, ValueError):
            continue
        children.setdefault(ppid, []).append((int(p), comm))
    out, todo = [], [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.append(c)
            todo.append(c[0])
    return out


def left_minutes(label):
    """Minutes left in a menu label such as `X — 1 h 59 min left`."""
    m = re.search(r"— (?:(\d+) h)? ?(?:(\d+) min)? left", label)
    if not m:
        return -1
    return int(m.group(1) or 0) * 60 + int(m.group(2) or 0)


def press_escape(wid):
    """Escape in a window (no window manager under Xvfb: focus it, then type)."""
    time.sleep(1.0)  # the page installs its key handler once loaded
    sh("xdotool", "windowfocus", "--sync", wid, check=False)
    sh("xdotool", "key", "--clearmodifiers", "Escape")


def webkit_processes(pid):
    return [c for c in descendants(pid) if c[1].startswith("WebKit")]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


class Env:
    """Fresh folders for one app instance."""

    def __init__(self, out, name):
        self.dir = os.path.join(out, name)
        os.makedirs(self.dir, exist_ok=True)
        self.home = tempfile.mkdtemp(prefix="home-", dir=self.dir)
        self.env = dict(os.environ)
        for k in ("XDG_CONFIG_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
            self.env[k] = tempfile.mkdtemp(prefix=k.lower() + "-", dir=self.dir)
        self.env["TMPDIR"] = tempfile.mkdtemp(prefix="tmp-", dir=self.dir)
        self.env["HOME"] = self.home
        self.env["PIM_CONFIG_DIR"] = os.path.join(self.dir, "pim-config")
        self.env["NO_AT_BRIDGE"] = "1"
        self.env["GTK_A11Y"] = "none"
        self.env.setdefault("RUST_LOG", "info")
        self.out = os.path.join(self.dir, "app.out")
        self.err = os.path.join(self.dir, "app.err")


def start_session_services(out, notifier):
    """Keyring, tray watcher and a notification server inside the current D-Bus session."""
    procs = []
    keyring_home = tempfile.mkdtemp(prefix="keyring-", dir=out)
    kenv = dict(os.environ, XDG_DATA_HOME=keyring_home, HOME=keyring_home)
    r = subprocess.run(["gnome-keyring-daemon", "--unlock", "--components=secrets", "--daemonize"],
                       input="e2e", text=True, capture_output=True, env=kenv, timeout=20)
    if r.returncode != 0:
        raise RuntimeError(f"gnome-keyring-daemon failed: {r.stderr}")
    procs.append(subprocess.Popen(["status-notifier-watcher"], stdout=subprocess.DEVNULL,
                                  stderr=open(os.path.join(out, "watcher.log"), "w")))
    notify_log = os.path.join(out, "notify.log")
    if notifier == "fake":
        procs.append(subprocess.Popen([PY, os.path.join(HERE, "fake_notifyd.py")],
                                      stdout=open(notify_log, "w"), stderr=subprocess.STDOUT))
        wait_for(lambda: os.path.exists(notify_log) and "ready" in open(notify_log).read(), 10,
                 "the fake notification server")
    else:
        procs.append(subprocess.Popen(["dunst", "-config", os.path.join(HERE, "dunstrc")],
                                      stdout=open(notify_log, "w"), stderr=subprocess.STDOUT))
    wait_for(lambda: sh("busctl", "--user", "status", "org.kde.StatusNotifierWatcher", check=False).returncode == 0,
             10, "the StatusNotifierWatcher")
    wait_for(lambda: sh("busctl", "--user", "status", "org.freedesktop.Notifications", check=False).returncode == 0,
             10, "the notification server")
    return procs, notify_log


def notifications(path):
    out = []
    if not os.path.exists(path):
        return out
    for line in open(path):
        try:
            d = json.loads(line)
        except ValueError:
            continue
        if "id" in d:
            out.append(d)
    return out


def sim_base(env):
    def ready():
        if not os.path.exists(env.out):
            return None
        m = re.search(r"^PIM_SIM_READY (http://127\.0\.0\.1:\d+)$", open(env.out).read(), re.M)
        return m.group(1) if m else None
    return wait_for(ready, 20, "PIM_SIM_READY on stdout")


def sim_post(base, path, body):
    req = urllib.request.Request(base + path, data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        return r.read()


def q_id(base, requester):
    """The simulator's id of `requester`'s incoming request."""
    for q in json.loads(urllib.request.urlopen(base + "/_sim/incoming", timeout=10).read()):
        if q["requester"]["displayName"] == requester:
            return q["id"]
    raise AssertionError(f"no incoming request of {requester}")


def sim_state(base):
    with urllib.request.urlopen(base + "/_sim/state", timeout=10) as r:
        return json.load(r)


CLIENT_ID = "14d82eec-204b-4c2f-b7e8-296a70dab67e"


def sim_graph_token(base):
    """A Graph access token from the demo simulator (auth code + PKCE: the simulator signs the
    demo user in without a form, so this script plays the browser). Kept in memory only."""
    import hashlib
    import secrets
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    redirect = "http://localhost:53123/"
    scope = "https://graph.microsoft.com/.default openid profile offline_access"
    q = urllib.parse.urlencode({"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": redirect,
                                "code_challenge": challenge, "code_challenge_method": "S256", "state": "e2e",
                                "scope": scope})

    class NoRedirect(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *a, **k):
            return None
    try:
        urllib.request.build_opener(NoRedirect).open(f"{base}/organizations/oauth2/v2.0/authorize?{q}", timeout=10)
        raise AssertionError("the simulator's authorize did not redirect")
    except urllib.error.HTTPError as e:
        location = e.headers["Location"]
    code = urllib.parse.parse_qs(urllib.parse.urlparse(location).query)["code"][0]
    body = urllib.parse.urlencode({"grant_type": "authorization_code", "client_id": CLIENT_ID, "code": code,
                                   "redirect_uri": redirect, "code_verifier": verifier, "scope": scope}).encode()
    with urllib.request.urlopen(urllib.request.Request(f"{base}/organizations/oauth2/v2.0/token", data=body),
                                timeout=10) as r:
        return json.load(r)["access_token"]


def my_role_requests(base):
    """The demo user's Entra role requests in the home tenant, as Graph lists them."""
    token = sim_graph_token(base)
    url = base + "/v1.0/roleManagement/directory/roleAssignmentScheduleRequests/filterByCurrentUser(on=%27principal%27)"
    out = []
    while url:
        req = urllib.request.Request(url, headers={"Authorization": "Bearer " + token})
        with urllib.request.urlopen(req, timeout=10) as r:
            v = json.load(r)
        out.extend(v.get("value", []))
        url = v.get("@odata.nextLink")
    return out


# ---------------------------------------------------------------- secret service

def secret_items():
    import dbus
    bus = dbus.SessionBus()
    service = bus.get_object("org.freedesktop.secrets", "/org/freedesktop/secrets")
    iface = dbus.Interface(service, "org.freedesktop.Secret.Service")
    _, session = iface.OpenSession("plain", dbus.String("", variant_level=1))
    props = dbus.Interface(service, "org.freedesktop.DBus.Properties")
    items = []
    for coll in props.Get("org.freedesktop.Secret.Service", "Collections"):
        cprops = dbus.Interface(bus.get_object("org.freedesktop.secrets", coll), "org.freedesktop.DBus.Properties")
        for item_path in cprops.Get("org.freedesktop.Secret.Collection", "Items"):
            obj = bus.get_object("org.freedesktop.secrets", item_path)
            attrs = dbus.Interface(obj, "org.freedesktop.DBus.Properties").Get("org.freedesktop.Secret.Item", "Attributes")
            secret = dbus.Interface(obj, "org.freedesktop.Secret.Item").GetSecret(session)
            items.append(({str(k): str(v) for k, v in attrs.items()}, bytes(secret[2]).decode("utf-8", "replace")))
    return items


def files_containing(needle, roots):
    hits = []
    nb = needle.encode()
    for root in roots:
        for d, _, files in os.walk(root):
            for f in files:
                p = os.path.join(d, f)
                try:
                    with open(p, "rb") as fh:
                        if nb in fh.read():
                            hits.append(p)
                except OSError:
                    pass
    return hits


# ---------------------------------------------------------------- WebDriver (tauri-driver)

E = "element-6066-11e4-a52e-4f735466cecf"


def wd(method, path, body=None, timeout=60):
    # A new connection per call and no "Connection: close" (see HEADLESS.md, WebDriver notes).
    c = http.client.HTTPConnection("127.0.0.1", 4444, timeout=timeout)
    c.request(method, path, None if body is None else json.dumps(body), {"Content-Type": "application/json"})
    r = c.getresponse()
    v = json.load(r)
    c.close()
    if r.status != 200:
        raise AssertionError(f"WebDriver {method} {path}: {r.status} {v}")
    return v["value"]


def demo_menu_shown(tray, env):
    """The demo's tenants, roles and states in the tray menu (dbusmenu GetLayout)."""
    wait_for(tray.find_item, 20, "the tray item and its menu")
    layout = wait_for(lambda: (lambda l: l if Tray.find(l, "Entra roles") else None)(tray.layout()), 20,
                      "the demo roles in the menu")
    labels = Tray.labels(layout)
    text = "\n".join(labels)
    with open(os.path.join(env.dir, "menu.txt"), "w") as f:
        f.write(text + "\n")
    expect = [
        "PIM Tray — Demo",
        "Contoso · adele@contoso.onmicrosoft.com",
        "Fabrikam · adele@contoso.onmicrosoft.com",
        "Directory Readers — permanent",
        "Entra roles > Global Reader",
        "Entra roles > Security Administrator",
        "Entra roles > Global Administrator",
        "Entra roles > Exchange Administrator",
        "Groups > SQL Prod Admins (member)",
        "Groups > SQL Prod Admins (owner)",
        "Azure resources > Contributor — Prod",
        "Azure resources > Reader — rg-web",
        "Entra roles > Teams Administrator",
        "Refresh", "Sign out adele@contoso.onmicrosoft.com", "Settings…", "Quit",
    ]
    missing = [e for e in expect if e not in text]
    assert not missing, f"missing {missing} in menu:\n{text}"
    assert re.search(r"^User Administrator \(Europe\) — \d+ min left > Deactivate$", text, re.M), text
    assert re.search(r"^User Administrator \(Europe\) — \d+ min left > Extend$", text, re.M), text


# ---------------------------------------------------------------- phase: tray

def phase_tray(args, res):
    procs, notify_log = start_session_services(args.out, "fake")
    env = Env(args.out, "tray")
    # The most verbose level for every crate: the leak scan below reads the log file, stdout
    # and stderr written at it.
    env.env["RUST_LOG"] = "trace"
    # Reminders 60, 15 and 5 minutes before the end: an activation made again for an hour is
    # reminded of at once (Snooze below); the demo's User Administrator (10 minutes left) still
    # gets one reminder at start.
    os.makedirs(env.env["PIM_CONFIG_DIR"], mode=0o700, exist_ok=True)
    with open(os.path.join(env.env["PIM_CONFIG_DIR"], "tray-settings.json"), "w") as f:
        json.dump({"version": 1, "reminderMinutes": [60, 15, 5]}, f)
    app = subprocess.Popen([args.bin, "--demo"], env=env.env, stdout=open(env.out, "w"), stderr=open(env.err, "w"))
    tray = Tray()
    base = {}
    try:
        def ready_line():
            base["url"] = sim_base(env)
        res.run("demo prints PIM_SIM_READY <base URL> on stdout", ready_line)

        def menu_shows_demo():
            demo_menu_shown(tray, env)
        res.run("tray menu (dbusmenu GetLayout) shows the demo's tenants, roles and states", menu_shows_demo)

        def icon_shows_activation():
            # Read through wait_for: the tray replaces its icon file on every change, and a read
            # that races a replacement fails to open the old file.
            wait_for(tray.icon_badge_is_green, 10, "the active badge on the icon while User Administrator is active")
        res.run("tray icon shows the active state while a role is activated", icon_shows_activation)

        def idle_has_no_webview():
            time.sleep(1)
            wk = webkit_processes(app.pid)
            assert not wk, f"webview processes at idle: {wk}"
        res.run("idle tray has no webview process", idle_has_no_webview)

        def approvals_on_top():
            # The demo's inbox: three requests wait for the demo user, one (two stages) for
            # Megan Bowen first; the section is at the top, the icon has the amber badge, and
            # the start-up read told them in one notification with Open.
            def section():
                top = [c["label"] for c in tray.layout()["children"]]
                return top if "Approvals (3)" in top else None
            top = wait_for(section, 30, "Approvals (3) in the menu")
            assert top.index("Approvals (3)") <= 2, f"not at the top: {top}"
            lines = Tray.labels(tray.layout())
            # The demo user has two tenants: each request says which.
            for want in ("Alex Wilber — Global Administrator · Contoso", "Lee Gu — Contributor — Prod · Contoso",
                         "Diego Siciliani — SQL Prod Admins (member) · Contoso"):
                assert want in lines, f"{want} missing: {lines[:12]}"
            assert any(l.startswith("Isaiah Langer — Owner") and "waiting for" in l and l.endswith("(disabled)")
                       for l in lines), lines[:12]
            wait_for(tray.icon_has_inbox_badge, 10, "the amber badge while requests wait")
            n = wait_for(lambda: next((n for n in notifications(notify_log)
                                       if n["summary"] == "3 requests wait for your approval"), None),
                         20, "the notification of the waiting requests")
            assert "open" in n["actions"] and "Alex Wilber (Global Administrator)" in n["body"], n
        res.run("Approvals (3) on top of the menu with the demo's requests (one greyed, stage 1 not mine); "
                "the icon's amber badge; one notification with Open", approvals_on_top)

        def new_request_notified_and_opened():
            sim_post(base["url"], "/_sim/incoming", {
                "kind": "entraRole", "role": "Exchange Administrator", "requester": "alexw@contoso.onmicrosoft.com",
                "justification": "Mailbox migration weekend", "ticketNumber": "CHG-9", "ticketSystem": "ServiceNow"})
            tray.click("Refresh")
            n = wait_for(lambda: next((n for n in notifications(notify_log)
                                       if n["summary"] == "Approval requested: Exchange Administrator"), None),
                         30, "the notification of the new request")
            assert "Alex Wilber asks for Exchange Administrator in Contoso (ticket CHG-9)" in n["body"], n
            assert "open" in n["actions"], n
            wait_for(lambda: Tray.find(tray.layout(), "Approvals (4)"), 10, "Approvals (4)")
            sh("busctl", "--user", "emit", "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
               "ActionInvoked", "us", str(n["id"]), "open")
            title = "^Approve or deny: Alex Wilber — Exchange Administrator"
            wid = wait_for(lambda: sh("xdotool", "search", "--name", title, check=False).stdout.split(), 30,
                           "the decision window")
            press_escape(wid[-1])
            wait_for(lambda: not sh("xdotool", "search", "--name", title, check=False).stdout.strip(), 15,
                     "the decision window to close")
            # The menu item opens the same window.
            tray.click("Alex Wilber — Exchange Administrator")
            wid = wait_for(lambda: sh("xdotool", "search", "--name", title, check=False).stdout.split(), 30,
                           "the decision window from the menu")
            press_escape(wid[-1])
            wait_for(lambda: not sh("xdotool", "search", "--name", title, check=False).stdout.strip(), 15,
                     "the decision window to close")
        res.run("a new request (simulator) is read on Refresh and notified; Open and its menu item open its "
                "decision window", new_request_notified_and_opened)

        reminder = {}

        def reminder_arrives():
            def find():
                for n in notifications(notify_log):
                    if "User Administrator" in n["summary"] and "extend" in n["actions"] and "deactivate" in n["actions"]:
                        return n
                return None
            n = wait_for(find, 60, "the User Administrator expiry reminder")
            reminder.update(n)
            assert "Extend" in n["actions"] and "Deactivate" in n["actions"], n
        res.run("expiry reminder for User Administrator arrives with actions extend/deactivate", reminder_arrives)

        def deactivate_from_notification():
            assert reminder, "no reminder to act on"
            sh("busctl", "--user", "emit", "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
               "ActionInvoked", "us", str(reminder["id"]), "deactivate")

            def gone():
                l = tray.layout()
                active = Tray.find(l, "User Administrator (Europe) —")
                eligible = Tray.find(l, "Entra roles", "User Administrator (Europe)")
                return active is None and eligible is not None
            wait_for(gone, 30, "User Administrator to leave the Active section")
            wait_for(lambda: any(n["summary"] == "User Administrator (Europe) ended" for n in notifications(notify_log)),
                     10, "the 'ended' notice")
        res.run("Deactivate via ActionInvoked removes the role from Active and tells it ended",
                deactivate_from_notification)

        def icon_back_to_idle():
            wait_for(lambda: not tray.icon_badge_is_green(), 15, "the idle icon")
        res.run("tray icon returns to idle when no role is activated", icon_back_to_idle)

        def sim_sees_it():
            st = sim_state(base["url"])
            with open(os.path.join(env.dir, "sim-state.json"), "w") as f:
                json.dump(st, f, indent=1)
            contoso = next(t for t in st["tenants"] if t.get("displayName") == "Contoso")
            names = [a.get("roleName") for a in contoso.get("active", [])]
            assert "Directory Readers" in names, names
            assert "User Administrator" not in names, names
        res.run("the simulator's state no longer has User Administrator active", sim_sees_it)

        ua = "User Administrator (Europe)"

        def recently_ended_in_menu():
            n = wait_for(lambda: Tray.find(tray.layout(), f"{ua} · ended"), 20, f"{ua} under Recently ended")
            assert [c["label"] for c in n["children"]] == ["Activate again"], n
            assert "Recently ended (disabled)" in Tray.labels(tray.layout())
        res.run("the menu offers the ended role under Recently ended, with Activate again", recently_ended_in_menu)

        again = {}

        def again_from_ended_notice():
            ended = next((n for n in notifications(notify_log) if n["summary"] == f"{ua} ended"), None)
            assert ended, "no 'ended' notice"
            assert "again" in ended["actions"] and "Activate again" in ended["actions"], ended
            again["mark"] = max(n["id"] for n in notifications(notify_log))
            sh("busctl", "--user", "emit", "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
               "ActionInvoked", "us", str(ended["id"]), "again")

            def active():
                n = Tray.find(tray.layout(), f"{ua} — ")
                return n if n and n["label"].split(" · ")[0].endswith(" left") else None
            n = wait_for(active, 30, f"{ua} active again in the menu")
            assert 55 <= left_minutes(n["label"]) <= 60, n["label"]
            wait_for(lambda: any(x["summary"] == f"{ua} is active again" for x in notifications(notify_log)),
                     15, "the 'active again' notification")
            assert Tray.find(tray.layout(), f"{ua} · ended") is None, "still offered under Recently ended"
            # What was sent: the justification and duration of the demo's earlier request.
            reqs = sorted((q for q in my_role_requests(base["url"]) if q.get("action") == "selfActivate"
                           and q.get("directoryScopeId", "").startswith("/administrativeUnits/")),
                          key=lambda q: q["createdDateTime"])
            assert len(reqs) == 2, [(q["justification"], q["createdDateTime"]) for q in reqs]
            for q in reqs:
                assert q["justification"] == "Onboarding new hires in the Paris office", q
                assert q["scheduleInfo"]["expiration"]["duration"] == "PT1H", q["scheduleInfo"]
            print(f"  sent again: '{reqs[1]['justification']}', {reqs[1]['scheduleInfo']['expiration']['duration']}",
                  flush=True)
        res.run("Activate again on the 'ended' notice (ActionInvoked) makes the role active with the same "
                "justification and duration", again_from_ended_notice)

        def snooze_from_reminder():
            assert again, "not activated again"

            def reminders(after):
                return [n for n in notifications(notify_log)
                        if n["id"] > after and n["summary"].startswith(f"{ua} ends in")]
            first = wait_for(lambda: reminders(again["mark"]), 30, "the 60-minute reminder of the new activation")[0]
            assert "snooze" in first["actions"] and "Snooze" in first["actions"], first
            sh("busctl", "--user", "emit", "/org/freedesktop/Notifications", "org.freedesktop.Notifications",
               "ActionInvoked", "us", str(first["id"]), "snooze")
            time.sleep(2)
            assert not reminders(first["id"]), f"reminded again at once: {reminders(first['id'])}"
            # Five minutes on the service's clock (the reminders follow it once a read sees it).
            sim_post(base["url"], "/_sim/clock/advance", {"seconds": 301})
            tray.click("Refresh")
            second = wait_for(lambda: reminders(first["id"]), 30, "the snoozed reminder, 5 minutes later")[0]
            assert re.search(r"ends in 5\d minutes", second["summary"]), second["summary"]
            assert "snooze" in second["actions"], second
            print(f"  '{first['summary']}' -> snoozed -> '{second['summary']}'", flush=True)
        res.run("Snooze on a reminder (ActionInvoked) brings it back 5 minutes later on the service's clock",
                snooze_from_reminder)

        def menu_click_opens_and_closes_window():
            tray.click("Entra roles", "Global Reader")
            wait_for(lambda: sh("xdotool", "search", "--name", "Activate Global Reader", check=False).stdout.strip(),
                     20, "the activation window")
            wait_for(lambda: webkit_processes(app.pid), 10, "a webview process")
            press_escape(sh("xdotool", "search", "--name", "Activate Global Reader").stdout.split()[0])
            wait_for(lambda: not sh("xdotool", "search", "--name", "Activate Global Reader", check=False).stdout.strip(),
                     10, "the window to close")
            # The window lives in its own process: closing it ends every WebKit process too.
            try:
                wait_for(lambda: not webkit_processes(app.pid), 15, "every WebKit process to end after closing")
            except AssertionError as e:
                raise AssertionError(f"{e}; still running: {webkit_processes(app.pid)}") from None
            wait_for(lambda: not [c for c in descendants(app.pid) if c[1] == "pim-tray"], 10,
                     "the window process to end")

        res.run("menu click opens the activation window; Escape closes it and no WebKit process is left",
                menu_click_opens_and_closes_window)

        def strict_policy_window_screenshot():
            # A role whose policy asks for a ticket and MFA: kept as a screenshot for the docs.
            tray.click("Entra roles", "Security Administrator")
            wid = wait_for(lambda: sh("xdotool", "search", "--name", "Activate Security Administrator",
                                      check=False).stdout.split(), 20, "the activation window")[0]
            time.sleep(2.0)  # the page asks the tray for the form, then renders it
            shot = os.path.join(env.dir, "activation-policy.png")
            sh("import", "-display", os.environ["DISPLAY"], "-window", wid, shot)
            save(args.screenshots, "activation-window-ticket-mfa.png", open(shot, "rb").read())
            press_escape(wid)
            wait_for(lambda: not webkit_processes(app.pid), 15, "the window's processes to end")
        res.run("activation window for a ticket + MFA role opens (screenshot) and closes cleanly",
                strict_policy_window_screenshot)

        def secret_only_in_keychain():
            items = secret_items()
            ours = [(a, s) for a, s in items if any(v.startswith("rt:") for v in a.values())]
            assert ours, f"no refresh token item in the Secret Service; items: {[a for a, _ in items]}"
            tokens = [s for _, s in ours if s and not s.lstrip().startswith("{")]
            assert tokens and all(len(t) >= 16 for t in tokens), "refresh token item is empty"
            roots = [env.env["PIM_CONFIG_DIR"], env.home, env.env["XDG_CONFIG_HOME"], env.env["XDG_CACHE_HOME"],
                     env.env["XDG_STATE_HOME"], env.env["TMPDIR"], env.env["XDG_DATA_HOME"]]
            for t in tokens:
                hits = files_containing(t, roots + [env.out, env.err, notify_log])
                # app.out / app.err / notify.log are files, walk() skips them: check directly.
                for p in (env.out, env.err, notify_log):
                    if t in open(p, errors="replace").read():
                        hits.append(p)
                assert not hits, f"refresh token found outside the keychain: {hits}"
            # No access token (JWT-shaped) either, anywhere the app writes.
            jwt = re.compile(rb"eyJ[A-Za-z0-9_-]{10,}\.eyJ[A-Za-z0-9_-]{10,}")
            leaks = []
            for root in roots:
                for d, _, files in os.walk(root):
                    for f in files:
                        try:
                            if jwt.search(open(os.path.join(d, f), "rb").read()):
                                leaks.append(os.path.join(d, f))
                        except OSError:
                            pass
            for p in (env.out, env.err, notify_log):
                if jwt.search(open(p, "rb").read()):
                    leaks.append(p)
            assert not leaks, f"access token found in {leaks}"
        res.run("refresh token is in the Secret Service and nowhere else; no access token in files, logs or output",
                secret_only_in_keychain)

        def single_instance():
            env2 = Env(args.out, "second")
            env2.env["PIM_CONFIG_DIR"] = env.env["PIM_CONFIG_DIR"]
            p = subprocess.Popen([args.bin, "--demo"], env=env2.env, stdout=open(env2.out, "w"),
                                 stderr=open(env2.err, "w"))
            rc = p.wait(timeout=30)
            assert rc == 0, f"second launch exited with {rc}"
            assert app.poll() is None, "the first instance died"
            # The first instance answers by showing its settings window.
            wait_for(lambda: sh("xdotool", "search", "--name", "Settings — PIM Tray", check=False).stdout.strip(),
                     15, "the first instance to show its settings window")
            wid = sh("xdotool", "search", "--name", "Settings — PIM Tray").stdout.split()[0]
            time.sleep(1.5)  # let the page render its values
            shot = os.path.join(env.dir, "settings.png")
            sh("import", "-display", os.environ["DISPLAY"], "-window", wid, shot)
            save(args.screenshots, "settings-window.png", open(shot, "rb").read())
            press_escape(wid)
            wait_for(lambda: not sh("xdotool", "search", "--name", "Settings — PIM Tray", check=False).stdout.strip(),
                     10, "the settings window to close")
        res.run("a second launch exits 0 and the first instance shows itself (single instance)", single_instance)

        def quit_from_menu():
            tray.click("Quit")
            rc = app.wait(timeout=15)
            assert rc == 0, f"exit code {rc}"
        res.run("Quit in the menu exits with code 0", quit_from_menu)

        def sigterm_exits_cleanly():
            env3 = Env(args.out, "sigterm")
            p = subprocess.Popen([args.bin, "--demo"], env=env3.env, stdout=open(env3.out, "w"),
                                 stderr=open(env3.err, "w"))
            sim_base(env3)
            t3 = Tray()
            wait_for(t3.find_item, 20, "the tray item")
            wait_for(lambda: Tray.find(t3.layout(), "Entra roles"), 20, "the menu")
            p.send_signal(signal.SIGTERM)
            rc = p.wait(timeout=15)
            assert rc == 0, f"exit code {rc}"
        res.run("SIGTERM exits with code 0", sigterm_exits_cleanly)
    finally:
        if app.poll() is None:
            app.kill()
        for p in procs:
            p.terminate()


# ---------------------------------------------------------------- phase: package

def phase_package(args, res):
    """An installed build (the .deb's /usr/bin/pim-tray, or the AppImage): --version without a
    display or D-Bus, then the demo menu, then Quit."""
    procs, _notify_log = start_session_services(args.out, "fake")
    env = Env(args.out, "package")
    try:
        def version_without_display():
            e = {k: v for k, v in env.env.items() if k not in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "WAYLAND_DISPLAY")}
            r = subprocess.run([args.bin, "--version"], env=e, capture_output=True, text=True, timeout=120)
            assert r.returncode == 0 and re.fullmatch(r"pim-tray \d+\.\d+\.\d+\S*\n", r.stdout), (r.returncode, r.stdout, r.stderr)
        res.run(f"{args.label}: pim-tray --version with no display and no D-Bus", version_without_display)

        app = subprocess.Popen([args.bin, "--demo"], env=env.env, stdout=open(env.out, "w"), stderr=open(env.err, "w"))
        try:
            tray = Tray()

            def demo_menu():
                sim_base(env)
                demo_menu_shown(tray, env)
            res.run(f"{args.label}: pim-tray --demo shows the demo menu", demo_menu)

            # A figure, not a check: the idle memory of the installed tray (the tray process, plus
            # the AppImage's runtime and AppRun around it), signed in with the demo roles listed.
            time.sleep(10)
            comm = open(f"/proc/{app.pid}/comm").read().strip()
            procs_rss = [(app.pid, comm, rss_kib(app.pid))] + [(p, c, rss_kib(p)) for p, c in descendants(app.pid)]
            tray_rss = sum(r for _, c, r in procs_rss if c == "pim-tray")
            total = sum(r for _, _, r in procs_rss)
            print(f"figure: {args.label} idle RSS, demo signed in: pim-tray {tray_rss / 1024:.1f} MiB, "
                  f"with its launcher processes {total / 1024:.1f} MiB", flush=True)

            def quit_from_menu():
                tray.click("Quit")
                rc = app.wait(timeout=15)
                assert rc == 0, f"exit code {rc}"
            res.run(f"{args.label}: Quit in the menu exits with code 0", quit_from_menu)
        finally:
            if app.poll() is None:
                app.kill()
    finally:
        for p in procs:
            p.terminate()


# ---------------------------------------------------------------- phase: webview

def phase_webview(args, res):
    procs, _ = start_session_services(args.out, "dunst")
    env = Env(args.out, "webview")
    # dunst renders the notifications (for the screenshot) but does not log them: the Notify
    # calls on the session bus are read by dbus-monitor instead.
    notify_calls = os.path.join(env.dir, "notify-calls.log")
    procs.append(subprocess.Popen(["dbus-monitor", "--session",
                                   "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"],
                                  stdout=open(notify_calls, "w"), stderr=subprocess.DEVNULL))
    # An `az` that is installed but signed out, for Settings' "Azure CLI sign-in".
    az_bin = os.path.join(env.dir, "az-bin")
    os.makedirs(az_bin, exist_ok=True)
    with open(os.path.join(az_bin, "az"), "w") as f:
        f.write("#!/bin/sh\necho \"ERROR: Please run 'az login' to setup account.\" >&2\nexit 1\n")
    os.chmod(os.path.join(az_bin, "az"), 0o755)
    env.env["PATH"] = az_bin + ":" + env.env.get("PATH", os.environ.get("PATH", ""))
    env.env["PIM_TRAY_BIN"] = os.path.abspath(args.bin)
    env.env["PIM_E2E_APP_OUT"] = env.out
    env.env["PIM_E2E_APP_ERR"] = env.err
    driver_bin = shutil.which("tauri-driver") or os.path.expanduser("~/.cargo/bin/tauri-driver")
    driver = subprocess.Popen([driver_bin, "--port", "4444"], env=env.env,
                              stdout=open(os.path.join(env.dir, "driver.log"), "w"), stderr=subprocess.STDOUT)
    tray = Tray()
    shots = args.screenshots
    session = {}
    try:
        wait_for(lambda: wd("GET", "/status", timeout=2) is not None, 20, "tauri-driver")

        def start_session():
            try:
                session["id"] = wd("POST", "/session", {"capabilities": {"alwaysMatch": {"tauri:options": {
                    "application": os.path.join(HERE, "app-wrapper.sh"), "args": ["--demo"]}}}}, timeout=120)["sessionId"]
            except Exception as e:  # noqa: BLE001
                session["error"] = e

        # POST /session returns once a webview exists; the tray creates one only on demand.
        t = threading.Thread(target=start_session, daemon=True)
        t.start()

        def open_window_from_menu():
            sim_base(env)
            wait_for(tray.find_item, 30, "the tray item")
            wait_for(lambda: Tray.find(tray.layout(), "Entra roles"), 30, "the demo roles in the menu")
            tray.click("Entra roles", "Global Reader")
            t.join(90)
            assert "id" in session, f"no WebDriver session: {session.get('error')}"
        if not res.run("menu click opens the activation window (WebDriver session attaches)", open_window_from_menu):
            return
        s = "/session/" + session["id"]

        def find(css):
            return wd("POST", s + "/element", {"using": "css selector", "value": css})[E]

        def text(css):
            return wd("GET", s + f"/element/{find(css)}/text")

        def form_shows_policy():
            wait_for(lambda: text("#role").startswith("Global Reader"), 15, "the form to load")
            pol = text("#policy")
            assert "Up to 8 h" in pol and "justification is required" in pol, pol
            assert "Demo" in text("#role")
        res.run("activation window shows the role and its policy before sending", form_shows_policy)

        def star_as_favourite():
            box = find("#favourite")
            assert wd("GET", s + f"/element/{box}/selected") is False, "starred before any click"
            wd("POST", s + f"/element/{box}/click", {})
            n = wait_for(lambda: Tray.find(tray.layout(), "Favourites", "Global Reader"), 15,
                         "Favourites > Global Reader in the menu")
            assert n["enabled"], n
            top = [c["label"] for c in tray.layout()["children"]]
            fav = top.index("Favourites")
            # Right after the title and the approver's inbox (the demo has one).
            assert all(l == "" or l.startswith("PIM Tray") or l.startswith("Approvals (") or " — " in l
                       for l in top[:fav]), f"Favourites is not right after the title and inbox: {top}"
            assert files_containing('"favourites"', [env.env["PIM_CONFIG_DIR"]]), \
                "no favourites saved in the tray settings"
        res.run("the window's ☆ Favourite puts Global Reader under Favourites at the top of the menu",
                star_as_favourite)

        def fill_submit_and_screenshot():
            el = find("#justification")
            wd("POST", s + f"/element/{el}/clear", {})
            wd("POST", s + f"/element/{el}/value", {"text": "Quarterly access review (INC-4711)"})
            wd("POST", s + "/execute/sync", {"args": [], "script":
                "document.getElementById('duration').value='120'; return true;"})
            wd("POST", s + "/execute/async", {"args": [], "script":
                "const d=arguments[0]; requestAnimationFrame(()=>requestAnimationFrame(()=>d()))"})
            png = base64.b64decode(wd("GET", s + "/screenshot"))
            save(shots, "activation-window.png", png)
            # First the service refuses (an injected 403): the window says so in words and
            # keeps the form; the second attempt goes through.
            fault = {"method": "POST", "path": "roleAssignmentScheduleRequests", "times": 1,
                     "fault": {"kind": "status", "status": 403, "code": "AuthorizationFailed",
                               "message": "The client does not have authorization to perform this action."}}
            sim_post(sim_base(env), "/_sim/faults", fault)
            # Entra roles apply 2 s after activation here (the demo says 20 s).
            sim_post(sim_base(env), "/_sim/propagation", {"entraRole": 2})
            wd("POST", s + f"/element/{find('#submit')}/click", {})
            wait_for(lambda: "error" in (wd("GET", s + f"/element/{find('#status')}/attribute/class") or ""), 30,
                     "the error to show")
            err = text("#status")
            assert "authorization" in err.lower() and "403" in err, err
            print(f"  error shown: {err}", flush=True)
            wd("POST", s + f"/element/{find('#submit')}/click", {})
            wait_for(lambda: wd("GET", s + "/title") == "Done: Global Reader", 30, "the activation to finish")
            msg = text("#status")
            assert msg == "Global Reader is active.", msg
            png = base64.b64decode(wd("GET", s + "/screenshot"))
            save(shots, "activation-done.png", png)
        res.run("fill and submit the activation form; a service error is shown in words, then a retry succeeds", fill_submit_and_screenshot)

        def tray_shows_active():
            def active():
                n = Tray.find(tray.layout(), "Global Reader — ")
                return n if n and re.match(r"Global Reader — (1 h 59 min|2 h) left", n["label"]) else None
            n = wait_for(active, 20, "Global Reader in the Active section")
            ext, deact = n["children"][0], n["children"][1]
            assert ext["label"].startswith("Extend (possible in") and not ext["enabled"], ext
            assert deact["label"].startswith("Deactivate (possible in") and not deact["enabled"], deact
            fav = Tray.find(tray.layout(), "Favourites", "Global Reader")
            assert fav and " left" in fav["label"] and not fav["enabled"], fav
        res.run("the role becomes active in the tray menu (Extend/Deactivate held for 5 minutes)", tray_shows_active)

        def tray_shows_ready():
            def label(suffix):
                n = Tray.find(tray.layout(), "Global Reader — ")
                return n["label"] if n and n["label"].endswith(suffix) else None
            # Seen applying at once or already ready, then ready once a fresh token carries it.
            first = wait_for(lambda: label(" · applying…") or label(" · ready"), 20, "Global Reader applying")
            done = wait_for(lambda: label(" · ready"), 40, "Global Reader ready")

            def ready_notice():
                text = open(notify_calls, encoding="utf-8", errors="replace").read()
                m = re.search(r'string "(Global Reader is ready[^"]*)"', text)
                return m.group(1) if m else None
            notice = wait_for(ready_notice, 20, "the 'Global Reader is ready' notification")
            assert re.fullmatch(r"Global Reader is ready \(after (\d+ s|\d+ min( \d+ s)?)\)", notice), notice
            print(f"  '{first}' -> '{done}'; notified: '{notice}'", flush=True)
        res.run("after activation the menu says the role is applying, then ready (fresh token's wids), and a "
                "notification says '<role> is ready (after …)'", tray_shows_ready)

        def extend_from_menu():
            n = Tray.find(tray.layout(), "Global Reader — ")
            assert not n["children"][0]["enabled"], f"Extend enabled during the 5-minute guard: {n}"
            # Move the simulator's clock past PIM's 5-minute guard; the tray follows the
            # service's clock after a refresh.
            sim_post(sim_base(env), "/_sim/clock/advance", {"seconds": 360})
            tray.click("Refresh")

            def extend_enabled():
                n = Tray.find(tray.layout(), "Global Reader — ")
                return n if n and n["children"][0]["label"] == "Extend" and n["children"][0]["enabled"] else None
            before = wait_for(extend_enabled, 30, "Extend to become available after 5 minutes")["label"]
            tray.click("Global Reader — ", "Extend")

            def later():
                n = Tray.find(tray.layout(), "Global Reader — ")
                return n if n and left_minutes(n["label"]) > left_minutes(before) else None
            n = wait_for(later, 30, f"Global Reader's end to move later than '{before}'")
            print(f"  extended: '{before}' -> '{n['label']}'", flush=True)
        res.run("Extend is held for 5 minutes, then Extend from the tray menu moves the end later", extend_from_menu)

        def cli_sees_tray_activation():
            pim = os.path.join(os.path.dirname(args.bin), "pim")
            if not os.access(pim, os.X_OK):
                print("SKIP the CLI sees the tray's activation (no pim binary next to pim-tray)", flush=True)
                return
            base = sim_base(env)
            cenv = dict(env.env, PIM_AUTHORITY_HOST=base, PIM_GRAPH_ENDPOINT=base, PIM_ARM_ENDPOINT=base,
                        PIM_CONFIG_DIR=os.path.join(env.dir, "cli-config"), BROWSER="curl -s -o /dev/null -L")
            r = subprocess.run([pim, "login"], env=cenv, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"pim login: {r.returncode} {r.stderr}"
            r = subprocess.run([pim, "roles", "--json"], env=cenv, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"pim roles: {r.returncode} {r.stderr}"
            roles = json.loads(r.stdout)
            gr = [x for x in roles if x.get("name") == "Global Reader"]
            assert gr and gr[0].get("state") == "active" and gr[0].get("endsAt"), gr
        res.run("the CLI signs in to the demo simulator and sees the tray's activation", cli_sees_tray_activation)

        def justification_remembered():
            cfg = open(os.path.join(env.env["PIM_CONFIG_DIR"], "tray-settings.json")).read()
            assert "Quarterly access review (INC-4711)" in cfg, cfg
        res.run("justification remembered per role in the settings file", justification_remembered)

        def step_up_shown_then_active():
            # Security Administrator needs MFA: the demo sign-in has none, so the activation
            # runs one browser step-up (the demo's loopback "browser"), which the window names
            # while it happens, and then the role is active: one click, no error.
            key = "entraRole|cab01047-8ad9-4792-8e42-569340767f1b|194ae4cb-b126-40b2-bd5b-6091b380977d||"
            wd("POST", s + "/execute/sync", {"args": [key], "script":
                "location.href = 'activate.html?role=' + encodeURIComponent(arguments[0]); return true;"})
            wait_for(lambda: text("#role").startswith("Security Administrator"), 20, "the Security Administrator form")
            assert "Multi-factor authentication" in text("#policy"), text("#policy")
            # The last justification (Global Reader's) is offered; choosing it puts it in the box.
            recent = wd("POST", s + "/execute/sync", {"args": [], "script":
                        "return [...document.querySelectorAll('#recent option')].map(o => o.value);"})
            assert "Quarterly access review (INC-4711)" in recent, recent
            assert "hidden" not in (wd("GET", s + f"/element/{find('#recent-row')}/attribute/class") or "")
            chosen = wd("POST", s + "/execute/sync", {"args": [], "script":
                        "const r = document.getElementById('recent'); r.focus(); r.selectedIndex = 1;"
                        " r.dispatchEvent(new Event('change')); return document.getElementById('justification').value;"})
            assert chosen == "Quarterly access review (INC-4711)", chosen
            for css, value in (("#justification", "Incident INC-4712 containment"),
                               ("#ticketNumber", "INC-4712"), ("#ticketSystem", "ServiceNow")):
                el = find(css)
                wd("POST", s + f"/element/{el}/clear", {})
                wd("POST", s + f"/element/{el}/value", {"text": value})
            wd("POST", s + f"/element/{find('#submit')}/click", {})
            wait_for(lambda: wd("GET", s + "/title") == "Done: Security Administrator", 60,
                     "the step-up activation to finish")
            progress, status = text("#progress"), text("#status")
            print(f"  progress: {progress!r}; status: {status!r}", flush=True)
            assert "Additional verification: complete the sign-in in your browser" in progress, progress
            assert "Verified in the browser." in progress, progress
            assert status == "Security Administrator is active.", status
            assert "error" not in (wd("GET", s + f"/element/{find('#status')}/attribute/class") or "")
            png = base64.b64decode(wd("GET", s + "/screenshot"))
            save(shots, "activation-step-up.png", png)
            wait_for(lambda: Tray.find(tray.layout(), "Security Administrator — "), 20,
                     "Security Administrator in the Active section")
        res.run("an MFA role (Security Administrator): the window says 'Additional verification…' during the "
                "browser step-up, then the role is active", step_up_shown_then_active)

        def notification_screenshot():
            wid = wait_for(lambda: sh("xdotool", "search", "--class", "Dunst", check=False).stdout.split(), 15,
                           "a dunst window")
            time.sleep(0.5)
            path = os.path.join(env.dir, "root.png")
            sh("import", "-display", os.environ["DISPLAY"], "-window", "root", path)
            geo = sh("xdotool", "getwindowgeometry", wid[-1]).stdout
            m = re.search(r"Position: (\d+),(\d+).*Geometry: (\d+)x(\d+)", geo, re.S)
            x, y, w, h = (int(v) for v in m.groups())
            crop = os.path.join(env.dir, "notification.png")
            sh("convert", path, "-crop", f"{w}x{h}+{x}+{y}", "+repage", "-bordercolor", "#dddddd", "-border", "6", crop)
            save(shots, "notification.png", open(crop, "rb").read())
        res.run("screenshot of a notification rendered by dunst", notification_screenshot)

        def history_window():
            # History… is in the menu; the page lists my requests (the demo's and this run's),
            # filters them, and saves the CSV (in the home folder here: no Downloads folder).
            # The menu item opens the history window (its own process); the WebDriver session
            # holds the first window, which shows the same page for the content checks.
            tray.click("History…")
            title = "^History — PIM Tray"
            wid = wait_for(lambda: sh("xdotool", "search", "--name", title, check=False).stdout.split(), 30,
                           "the history window from the menu")
            press_escape(wid[-1])
            wait_for(lambda: not sh("xdotool", "search", "--name", title, check=False).stdout.strip(), 15,
                     "the history window to close")
            wd("POST", s + "/execute/sync", {"args": [], "script": "location.href = 'history.html'; return true;"})

            def rows():
                return wd("POST", s + "/execute/sync", {"args": [], "script":
                          "return [...document.querySelectorAll('#history tbody tr')].map(r => r.textContent);"})
            wait_for(lambda: len(rows()) >= 5, 30, "the history rows")
            all_rows = rows()
            assert any("Quarterly access review (INC-4711)" in r for r in all_rows), all_rows[:5]
            assert any("SQL Prod Admins" in r for r in all_rows), all_rows
            el = find("#filter")
            wd("POST", s + f"/element/{el}/value", {"text": "quarterly"})
            wait_for(lambda: 0 < len(rows()) < len(all_rows), 10, "the filter to narrow the list")
            assert all("Quarterly" in r for r in rows()), rows()
            assert text("#count").startswith(f"{len(rows())} of {len(all_rows)}"), text("#count")
            wd("POST", s + f"/element/{find('#export')}/click", {})
            wait_for(lambda: text("#status").startswith("Saved "), 20, "the export")
            path = text("#status").split(" to ", 1)[1]
            assert path.startswith(env.home) and path.endswith(".csv"), path
            csv = open(path, encoding="utf-8").read()
            assert csv.startswith("createdAt,tenantId,tenantName,kind,name,scope,action,status"), csv[:200]
            assert "Quarterly access review (INC-4711)" in csv
            print(f"  {len(all_rows)} requests listed; CSV: {path}", flush=True)
        res.run("History… in the menu opens the history window; it lists my requests, filters them by text and "
                "exports the CSV", history_window)

        def bundle_window():
            # A bundle saved by the CLI (same bundles.json) is in the tray's Bundles menu; its
            # window asks once for every role (the combined requirements) and says how each
            # ended; both roles are then active in the menu.
            pim = os.path.join(os.path.dirname(args.bin), "pim")
            base = sim_base(env)
            cli_dir = os.path.join(env.dir, "cli-bundle")
            cenv = dict(env.env, PIM_AUTHORITY_HOST=base, PIM_GRAPH_ENDPOINT=base, PIM_ARM_ENDPOINT=base,
                        PIM_CONFIG_DIR=cli_dir, BROWSER="curl -s -o /dev/null -L")
            for argv in (["login"], ["bundle", "save", "e2e", "SQL Prod Admins member", "Key Vault Reader",
                                      "--reason", "Bundle e2e (INC-77)"]):
                r = subprocess.run([pim] + argv, env=cenv, capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, f"pim {argv}: {r.returncode} {r.stderr}"
            shutil.copy(os.path.join(cli_dir, "bundles.json"), os.path.join(env.env["PIM_CONFIG_DIR"], "bundles.json"))
            tray.click("Refresh")
            wait_for(lambda: Tray.find(tray.layout(), "Bundles", "e2e"), 30, "Bundles › e2e in the menu")
            wd("POST", s + "/execute/sync", {"args": [], "script": "location.href = 'bundle.html?name=e2e'; return true;"})
            wait_for(lambda: text("#name") == "Bundle e2e", 20, "the bundle form")
            roles = wd("POST", s + "/execute/sync", {"args": [], "script":
                       "return [...document.querySelectorAll('#roles li')].map(l => l.textContent);"})
            assert len(roles) == 2 and any(r.startswith("SQL Prod Admins (member)") for r in roles), roles
            pol = text("#policy")
            assert "Up to 4 h" in pol and "justification is required" in pol, pol
            assert wd("POST", s + "/execute/sync", {"args": [], "script":
                      "return document.getElementById('justification').value;"}) == "Bundle e2e (INC-77)"
            # Key Vault Reader (ARM: a PUT of its request) is refused by the service; SQL Prod
            # Admins (Graph: a POST) goes through.
            fault = {"method": "PUT", "path": "roleAssignmentScheduleRequests/", "times": 100,
                     "fault": {"kind": "status", "status": 403, "code": "AuthorizationFailed",
                               "message": "The client does not have authorization to perform this action."}}
            sim_post(base, "/_sim/faults", fault)

            def lines():
                return wd("POST", s + "/execute/sync", {"args": [], "script":
                          "return [...document.querySelectorAll('#roles li')].map(l => l.textContent);"})

            def line(prefix):
                return next(l for l in lines() if l.startswith(prefix))
            wd("POST", s + f"/element/{find('#submit')}/click", {})
            wait_for(lambda: "failed" in text("#status"), 60, "the bundle to be sent, one role failing")
            assert line("Key Vault Reader").startswith("Key Vault Reader — Fabrikam Dev — failed: "), lines()
            assert line("SQL Prod Admins (member)").endswith("— active"), lines()
            assert text("#status").startswith("1 of 2 failed"), text("#status")
            retry = find("#retry")
            assert wd("GET", s + f"/element/{retry}/displayed"), "Retry failed is not shown"
            print(f"  first send: {lines()}", flush=True)
            # The fault cleared, Retry failed sends Key Vault Reader's request again and nothing
            # for the role that is active.
            req = urllib.request.Request(base + "/_sim/faults", method="DELETE")
            urllib.request.urlopen(req, timeout=10).read()
            urllib.request.urlopen(urllib.request.Request(base + "/_sim/requests", method="DELETE"), timeout=10).read()
            wd("POST", s + f"/element/{retry}/click", {})
            wait_for(lambda: wd("GET", s + "/title") == "Done: Bundle e2e", 60, "the retry to finish")
            log = json.load(urllib.request.urlopen(base + "/_sim/requests", timeout=10))
            arm = [q for q in log if q["method"] == "PUT" and "roleAssignmentScheduleRequests/" in q["path"]]
            graph = [q for q in log if q["method"] == "POST" and "ssignmentScheduleRequests" in q["path"]]
            assert len(arm) == 1 and arm[0]["status"] < 300, arm
            assert not graph, f"sent again for a role already active: {graph}"
            done = lines()
            assert all(r.endswith("— active") for r in done), done
            wait_for(lambda: Tray.find(tray.layout(), "SQL Prod Admins (member) — ")
                     and Tray.find(tray.layout(), "Key Vault Reader — Fabrikam Dev — "), 30,
                     "both roles active in the menu")
            # The menu entry opens the bundle's own window.
            tray.click("Bundles", "e2e")
            wid = wait_for(lambda: sh("xdotool", "search", "--name", "^Bundle e2e", check=False).stdout.split(), 30,
                           "the bundle window")
            press_escape(wid[-1])
            wait_for(lambda: not sh("xdotool", "search", "--name", "^Bundle e2e", check=False).stdout.strip(), 15,
                     "the bundle window to close")
            print(f"  {done}", flush=True)
        res.run("Bundles › e2e (saved by the CLI) opens one form for its roles; a role the service refuses fails "
                "alone, Retry failed sends only it again (simulator's log); both become active", bundle_window)

        def approval_window():
            # The decision window for the demo's requests (ids from `pim approvals --json`, the
            # same demo user): the request in words; Deny without a reason is refused; Approve
            # activates Alex Wilber's Global Administrator in the simulator and leaves the menu;
            # Deny with a reason records it; a request decided elsewhere meanwhile says so.
            pim = os.path.join(os.path.dirname(args.bin), "pim")
            base = sim_base(env)
            cenv = dict(env.env, PIM_AUTHORITY_HOST=base, PIM_GRAPH_ENDPOINT=base, PIM_ARM_ENDPOINT=base,
                        PIM_CONFIG_DIR=os.path.join(env.dir, "cli-approvals"), BROWSER="curl -s -o /dev/null -L")
            r = subprocess.run([pim, "login"], env=cenv, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"pim login: {r.returncode} {r.stderr}"
            r = subprocess.run([pim, "approvals", "--json"], env=cenv, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"pim approvals: {r.returncode} {r.stderr}"
            ids = {i["requester"]["name"]: i["id"] for i in json.loads(r.stdout)}
            wait_for(lambda: Tray.find(tray.layout(), "Alex Wilber — Global Administrator"), 30,
                     "Alex Wilber's request in the menu")

            def show(who):
                wd("POST", s + "/execute/sync", {"args": [ids[who]], "script":
                   "location.href = 'approval.html?id=' + encodeURIComponent(arguments[0]); return true;"})

            def details():
                return wd("POST", s + "/execute/sync", {"args": [], "script":
                          "return [...document.querySelectorAll('#details dd')].map(d => d.dataset.field + '=' + d.textContent);"})
            show("Alex Wilber")
            wait_for(lambda: text("#title") == "Alex Wilber asks for Global Administrator", 20, "the request")
            d = details()
            for want in ("requester=Alex Wilber (alexw@contoso.onmicrosoft.com)", "tenant=Contoso",
                         "duration=1 h", "you decide as=adele@contoso.onmicrosoft.com"):
                assert want in d, f"{want} not in {d}"
            assert any(x.startswith("ticket=") and "INC-2217" in x for x in d), d
            save(shots, "approval-window.png", base64.b64decode(wd("GET", s + "/screenshot")))
            wd("POST", s + f"/element/{find('#deny')}/click", {})
            assert text("#status").startswith("Say why you deny"), text("#status")
            el = find("#justification")
            wd("POST", s + f"/element/{el}/value", {"text": "INC-2217 checked with the on-call lead"})
            wd("POST", s + f"/element/{find('#approve')}/click", {})
            wait_for(lambda: text("#status").startswith("Approved: Alex Wilber gets Global Administrator"), 30,
                     "the approval")
            q = next(q for q in json.loads(urllib.request.urlopen(base + "/_sim/incoming", timeout=10).read())
                     if q["requester"]["displayName"] == "Alex Wilber" and q["roleName"] == "Global Administrator")
            assert q["status"] == "Provisioned" and q["assignment"] and q["assignment"]["active"], q
            assert q["stages"][0]["justification"] == "INC-2217 checked with the on-call lead", q["stages"]
            wait_for(lambda: not Tray.find(tray.layout(), "Alex Wilber — Global Administrator"), 20,
                     "Alex Wilber's request to leave the menu")

            show("Lee Gu")
            wait_for(lambda: text("#title") == "Lee Gu asks for Contributor", 20, "Lee Gu's request")
            wd("POST", s + f"/element/{find('#justification')}/value", {"text": "Use Thursday's change window"})
            wd("POST", s + f"/element/{find('#deny')}/click", {})
            wait_for(lambda: text("#status").startswith("Denied"), 30, "the denial")
            q = next(q for q in json.loads(urllib.request.urlopen(base + "/_sim/incoming", timeout=10).read())
                     if q["requester"]["displayName"] == "Lee Gu")
            assert q["status"] == "Denied" and not q.get("assignment"), q

            # Decided by another approver while the window is open: said plainly.
            show("Diego Siciliani")
            wait_for(lambda: text("#title").startswith("Diego Siciliani asks for SQL Prod Admins"), 20, "Diego's request")
            sim_post(base, f"/_sim/approvals/{urllib.parse.quote(q_id(base, 'Diego Siciliani'), safe='')}/approve", {})
            wd("POST", s + f"/element/{find('#approve')}/click", {})
            wait_for(lambda: "already" in text("#status"), 30, "the refusal")
            assert "approved" not in wd("GET", s + "/title").lower(), wd("GET", s + "/title")
            # An id no longer in the inbox: the window says the request no longer waits.
            show("Alex Wilber")
            wait_for(lambda: text("#title") == "This request no longer waits for you", 20, "the gone request")
            print(f"  decided: {sorted(ids)}", flush=True)
        res.run("the decision window shows a request; Approve activates the requester (simulator), Deny needs and "
                "records a reason, a request decided elsewhere or gone is said plainly; the menu follows",
                approval_window)

        def bundles_in_settings():
            # Settings lists the bundles; the roles active now are saved as a new one (the menu's
            # "Save active roles as a bundle…" opens Settings for its name), and Remove drops one;
            # the menu follows.
            tray.click("Save active roles as a bundle…")
            title = "^Settings — PIM Tray"
            wid = wait_for(lambda: sh("xdotool", "search", "--name", title, check=False).stdout.split(), 30,
                           "the settings window from 'Save active roles as a bundle…'")
            press_escape(wid[-1])
            wait_for(lambda: not sh("xdotool", "search", "--name", title, check=False).stdout.strip(), 15,
                     "the settings window to close")
            wd("POST", s + "/execute/sync", {"args": [], "script": "location.href = 'settings.html'; return true;"})

            def names():
                return wd("POST", s + "/execute/sync", {"args": [], "script":
                          "return [...document.querySelectorAll('#bundle-list > li')].map(l => l.dataset.name || '');"})
            wait_for(lambda: names() == ["e2e"], 20, "the e2e bundle in Settings")
            el = find("#bundle-name")
            wd("POST", s + f"/element/{el}/value", {"text": "now active"})
            wd("POST", s + f"/element/{find('#save-bundle')}/click", {})
            wait_for(lambda: names() == ["e2e", "now active"], 20, "the new bundle")
            assert text("#bundle-status").startswith("The active roles were saved as now active"), text("#bundle-status")
            saved = json.load(open(os.path.join(env.env["PIM_CONFIG_DIR"], "bundles.json")))
            roles = [r["name"] for b in saved["bundles"] if b["name"] == "now active" for r in b["roles"]]
            assert "SQL Prod Admins" in roles and "Key Vault Reader" in roles, roles
            wd("POST", s + "/execute/sync", {"args": [], "script":
               "document.querySelector('#bundle-list li[data-name=\"e2e\"] button.remove').click(); return true;"})
            wait_for(lambda: names() == ["now active"], 20, "the removal")
            # Edit its request: reason and duration (the roles stay).
            wd("POST", s + "/execute/sync", {"args": [], "script":
               "document.querySelector('#bundle-list li[data-name=\"now active\"] button.edit').click(); return true;"})
            for css, value in (("#bundle-reason", "Edited reason"), ("#bundle-duration", "90")):
                el = find(css)
                wd("POST", s + f"/element/{el}/clear", {})
                wd("POST", s + f"/element/{el}/value", {"text": value})
            wd("POST", s + f"/element/{find('#bundle-update')}/click", {})
            wait_for(lambda: text("#bundle-status") == "now active was changed.", 20, "the edit")
            saved = json.load(open(os.path.join(env.env["PIM_CONFIG_DIR"], "bundles.json")))
            b = [b for b in saved["bundles"] if b["name"] == "now active"][0]
            assert b["reason"] == "Edited reason" and b["duration"] == "PT1H30M" and len(b["roles"]) >= 2, b
            wait_for(lambda: Tray.find(tray.layout(), "Bundles", "now active")
                     and not Tray.find(tray.layout(), "Bundles", "e2e"), 20, "the menu to follow")
        res.run("'Save active roles as a bundle…' in the menu opens Settings; Settings lists bundles, saves the "
                "active roles as one and removes one; the menu follows",
                bundles_in_settings)

        def accounts_in_settings():
            # Settings lists the accounts with Make default / Remove, and adds one through the
            # browser in a chosen cloud (custom: the demo simulator's endpoints).
            wd("POST", s + "/execute/sync", {"args": [], "script": "location.href = 'settings.html'; return true;"})

            def rows():
                return wd("POST", s + "/execute/sync", {"args": [], "script":
                          "return [...document.querySelectorAll('#account-list > li')].map(l => l.textContent);"})
            wait_for(lambda: any("adele@contoso.onmicrosoft.com" in r and "default" in r for r in rows()), 20,
                     "the account in Settings")
            head = text("#accounts")
            assert head == "Signed in: adele@contoso.onmicrosoft.com", head
            wd("POST", s + f"/element/{find('#account-list li button.remove')}/click", {})
            wait_for(lambda: "signed out" in text("#account-status"), 30, "the removal")
            # The header follows the list at once (same window, not reopened).
            head = text("#accounts")
            assert head == "Not signed in", f"header after Remove: {head!r}"
            wait_for(lambda: Tray.find(tray.layout(), "Sign in with a code"), 20, "the signed-out menu")
            assert any("No account" in r for r in rows()), rows()
            wd("POST", s + "/execute/sync", {"args": [], "script":
                "document.getElementById('new-cloud').value='custom'; return true;"})
            wd("POST", s + f"/element/{find('#add-account')}/click", {})
            wait_for(lambda: text("#account-status") == "Account added.", 60, "the account to be added")
            assert any("adele@contoso.onmicrosoft.com" in r and "default" in r for r in rows()), rows()
            head = text("#accounts")
            assert head == "Signed in: adele@contoso.onmicrosoft.com", f"header after Add: {head!r}"
            wait_for(lambda: Tray.find(tray.layout(), "Sign out adele@contoso.onmicrosoft.com")
                     and Tray.find(tray.layout(), "Entra roles", "Exchange Administrator"), 30, "the roles again")
            png = base64.b64decode(wd("GET", s + "/screenshot"))
            save(shots, "settings-accounts.png", png)
        res.run("Settings lists accounts; Remove signs out; Add (custom endpoints, browser) signs in again; "
                "the 'Signed in:' header follows both without reopening", accounts_in_settings)

        def tenants_in_settings():
            # Each account lists its tenants with a check box: unchecking one hides it from the
            # tray (its section leaves the menu; the choice is saved with the account, where the
            # CLI reads it), checking it again brings its roles back.
            fab = "Fabrikam · adele@contoso.onmicrosoft.com"
            wd("POST", s + "/execute/sync", {"args": [], "script": "location.reload(); return true;"})

            def boxes():
                return wd("POST", s + "/execute/sync", {"args": [], "script":
                          "return [...document.querySelectorAll('#account-list input.tenant-shown')]"
                          ".map(i => [i.parentElement.textContent, i.checked]);"})
            wait_for(lambda: len(boxes()) == 2, 20, "the account's two tenants in Settings")
            b = boxes()
            assert b[0][0].startswith("Contoso") and "home" in b[0][0] and b[0][1], b
            assert b[1][0].startswith("Fabrikam") and b[1][1], b
            assert Tray.find(tray.layout(), fab), "the Fabrikam section before hiding it"

            def click_box(name):
                wd("POST", s + "/execute/sync", {"args": [name], "script":
                   "const i = [...document.querySelectorAll('#account-list input.tenant-shown')]"
                   ".find(i => i.parentElement.textContent.startsWith(arguments[0])); i.click(); return true;"})
            click_box("Fabrikam")
            wait_for(lambda: text("#account-status") == "Fabrikam is hidden from the tray.", 20, "the hide")
            # One tenant left: the menu drops the section headers and nothing of Fabrikam is left.
            wait_for(lambda: not any("Fabrikam" in x for x in Tray.labels(tray.layout())), 20,
                     "the Fabrikam section to leave the menu")
            assert Tray.find(tray.layout(), "Entra roles", "Exchange Administrator"), Tray.labels(tray.layout())
            assert [x[1] for x in boxes()] == [True, False], boxes()
            saved = json.load(open(os.path.join(env.env["PIM_CONFIG_DIR"], "accounts.json")))
            hidden = [a.get("hiddenTenants") for a in saved["accounts"]]
            assert hidden and hidden[0] and len(hidden[0]) == 1, saved
            png = base64.b64decode(wd("GET", s + "/screenshot"))
            save(shots, "settings-tenants.png", png)
            # The last shown tenant cannot be hidden: the engine refuses, the box stays checked.
            click_box("Contoso")
            wait_for(lambda: "at least one tenant must stay shown" in text("#account-status"), 20, "the refusal")
            wait_for(lambda: [x[1] for x in boxes()] == [True, False], 10, "the list as it is")
            assert Tray.find(tray.layout(), "Entra roles", "Exchange Administrator"), Tray.labels(tray.layout())
            click_box("Fabrikam")
            wait_for(lambda: text("#account-status") == "Fabrikam is shown in the tray.", 30, "the show")
            wait_for(lambda: "Entra roles > Teams Administrator" in menu_sections(tray.layout()).get(fab, []), 30,
                     "the Fabrikam roles back in the menu")
            saved = json.load(open(os.path.join(env.env["PIM_CONFIG_DIR"], "accounts.json")))
            assert not any(a.get("hiddenTenants") for a in saved["accounts"]), saved
        def azure_cli_signed_out():
            # "Azure CLI sign-in" while `az` is signed out: the reason and the command to run,
            # as an error; the accounts stay as they were.
            before = wd("POST", s + "/execute/sync", {"args": [], "script":
                        "return document.querySelectorAll('#account-list > li').length;"})
            wd("POST", s + "/execute/sync", {"args": [], "script":
                "document.getElementById('new-cloud').value='azure-cli'; return true;"})
            wd("POST", s + f"/element/{find('#add-account')}/click", {})
            wait_for(lambda: "az login" in text("#account-status"), 30, "the Azure CLI's refusal")
            msg = text("#account-status")
            print(f"  az signed out: {msg!r}", flush=True)
            assert "Please run 'az login'" in msg and "Run `az login` in a terminal" in msg, msg
            assert "pim login" not in msg and "tray menu" not in msg, msg
            assert "error" in (wd("GET", s + f"/element/{find('#account-status')}/attribute/class") or "")
            after = wd("POST", s + "/execute/sync", {"args": [], "script":
                       "return document.querySelectorAll('#account-list > li').length;"})
            assert after == before, (before, after)
            assert Tray.find(tray.layout(), "Entra roles", "Exchange Administrator"), "the tray is unchanged"
        res.run("Settings → Azure CLI sign-in with `az` signed out says to run `az login`; nothing changes",
                azure_cli_signed_out)

        res.run("Settings shows each account's tenants: unchecking one hides it from the menu (saved with the "
                "account), the last one cannot be hidden, checking it brings its roles back", tenants_in_settings)
    finally:
        if "id" in session:
            try:
                wd("DELETE", "/session/" + session["id"], timeout=20)
            except Exception:  # noqa: BLE001
                pass
        driver.terminate()
        for p in procs:
            p.terminate()


# ---------------------------------------------------------------- phase: signin

def phase_signin(args, res):
    """The tray without --demo, pointed at a separate pim-sim through the PIM_* variables,
    signing in through the menu with BROWSER (the system-browser path), then signing out."""
    sim_bin = os.path.join(os.path.dirname(args.bin), "pim-sim")
    if not os.access(sim_bin, os.X_OK):
        print("SKIP sign-in phase (no pim-sim binary next to pim-tray)", flush=True)
        return
    procs, notify_log = start_session_services(args.out, "fake")
    env = Env(args.out, "signin")
    sim_out = os.path.join(env.dir, "sim.out")
    sim = subprocess.Popen([sim_bin, "--listen", "127.0.0.1:0", "--scenario", "demo"], stdout=open(sim_out, "w"),
                           stderr=subprocess.DEVNULL)
    procs.append(sim)
    base = wait_for(lambda: (re.search(r"PIM_SIM_READY (\S+)", open(sim_out).read()) or [None, None])[1], 20,
                    "pim-sim")
    env.env.update(PIM_AUTHORITY_HOST=base, PIM_GRAPH_ENDPOINT=base, PIM_ARM_ENDPOINT=base,
                   BROWSER="curl -s -o /dev/null -L")
    app = subprocess.Popen([args.bin], env=env.env, stdout=open(env.out, "w"), stderr=open(env.err, "w"))
    tray = Tray()
    try:
        def signed_out_first():
            wait_for(tray.find_item, 20, "the tray item")
            layout = wait_for(lambda: (lambda l: l if Tray.find(l, "Sign in") else None)(tray.layout()), 20,
                              "the signed-out menu")
            labels = Tray.labels(layout)
            assert labels[0].startswith("PIM Tray (disabled)") or labels[0] == "PIM Tray (disabled)", labels
            assert "Not signed in (disabled)" in labels, labels
            assert not os.path.exists(env.out) or "PIM_SIM_READY" not in open(env.out).read()
        res.run("without --demo the tray starts signed out (no simulator, no Demo label)", signed_out_first)

        def sign_in_from_menu():
            tray.click("Sign in")
            wait_for(lambda: Tray.find(tray.layout(), "Entra roles", "Global Reader"), 30, "the roles after sign-in")
            assert Tray.find(tray.layout(), "Sign out adele@contoso.onmicrosoft.com")
            items = [a for a, _ in secret_items() if any(v.startswith("rt:") for v in a.values())]
            assert items, "no refresh token in the Secret Service after sign-in"
        res.run("Sign in from the menu opens BROWSER, completes and lists the roles; token in the keychain",
                sign_in_from_menu)

        def approval_flow_with_cli():
            pim = os.path.join(os.path.dirname(args.bin), "pim")
            if not os.access(pim, os.X_OK):
                print("SKIP approval flow (no pim binary next to pim-tray)", flush=True)
                return
            cenv = dict(env.env, PIM_CONFIG_DIR=os.path.join(env.dir, "cli-config"))
            r = subprocess.run([pim, "login"], env=cenv, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"pim login: {r.stderr}"
            for name in ("Global Administrator", "SQL Prod Admins (owner)"):
                cmd = [pim, "activate", name, "--reason", "Change CHG-77 (e2e)", "--duration", "1h"]
                r = subprocess.run(cmd, env=cenv, capture_output=True, text=True, timeout=60)
                assert r.returncode == 0, f"pim activate {name}: {r.returncode} {r.stdout} {r.stderr}"
            tray.click("Refresh")
            wait_for(lambda: Tray.find(tray.layout(), "Global Administrator — awaiting approval", "Cancel request"),
                     20, "Global Administrator pending in the menu")
            wait_for(lambda: Tray.find(tray.layout(), "SQL Prod Admins (owner) — awaiting approval"), 20,
                     "SQL Prod Admins (owner) pending in the menu")
            # Cancel one from the tray...
            tray.click("SQL Prod Admins (owner) — awaiting approval", "Cancel request")
            wait_for(lambda: not Tray.find(tray.layout(), "SQL Prod Admins (owner) — awaiting approval"), 20,
                     "the cancelled request to leave the menu")
            # ...and have the other approved by an approver.
            pending = json.load(urllib.request.urlopen(base + "/_sim/pending", timeout=10))
            ga = next(p for p in pending if p["roleName"] == "Global Administrator")
            sim_post(base, f"/_sim/approvals/{ga['id']}/approve", {"justification": "ok"})
            tray.click("Refresh")
            wait_for(lambda: Tray.find(tray.layout(), "Global Administrator — 1 h left")
                     or Tray.find(tray.layout(), "Global Administrator — 59 min left"), 20,
                     "Global Administrator active after approval")
            wait_for(lambda: any(n["summary"] == "Global Administrator approved" for n in notifications(notify_log)),
                     10, "the approval notice")
            assert any(n["summary"] == "SQL Prod Admins (owner) not activated" for n in notifications(notify_log))
        res.run("requests made with the CLI show as Pending; Cancel request works; an approval is notified",
                approval_flow_with_cli)

        def restart_uses_keychain():
            tray.click("Quit")
            assert app.wait(timeout=15) == 0
            again = subprocess.Popen([args.bin], env=env.env, stdout=open(env.out, "a"), stderr=open(env.err, "a"))
            procs.append(again)
            t2 = Tray()
            wait_for(t2.find_item, 20, "the tray item")
            wait_for(lambda: Tray.find(t2.layout(), "Entra roles", "Global Reader"), 30,
                     "the roles from the saved sign-in (no browser)")
            t2.click("Sign out adele@contoso.onmicrosoft.com")
            wait_for(lambda: Tray.find(t2.layout(), "Sign in"), 20, "the signed-out menu")
            items = [a for a, _ in secret_items() if any(v.startswith("rt:") for v in a.values())]
            assert not items, f"refresh token still in the keychain after sign-out: {items}"
            t2.click("Quit")
            assert again.wait(timeout=15) == 0
        res.run("a restart signs in from the keychain alone; Sign out removes the keychain item",
                restart_uses_keychain)

        def device_code_from_menu():
            # The browser cannot be used: "Sign in with a code…" shows the code in the menu and
            # a notification while pim-auth polls; an approval at the simulator signs in, a
            # decline is reported and leaves the tray signed out.
            third = subprocess.Popen([args.bin], env=env.env, stdout=open(env.out, "a"), stderr=open(env.err, "a"))
            procs.append(third)
            t3 = Tray()
            wait_for(t3.find_item, 20, "the tray item")
            wait_for(lambda: Tray.find(t3.layout(), "Sign in with a code"), 20, "the signed-out menu")

            def code_in_menu():
                n = Tray.find(t3.layout(), "Sign-in code: ")
                return n["label"].split(": ", 1)[1] if n else None

            t3.click("Sign in with a code")
            code = wait_for(code_in_menu, 20, "the user code in the menu")
            where = Tray.find(t3.layout(), "Enter it at ")
            assert where and base in where["label"] and not where["enabled"], where
            wait_for(lambda: any(n["summary"] == f"Sign-in code: {code}" and code in n["body"]
                                 for n in notifications(notify_log)), 10, "the code in a notification")
            sim_post(base, f"/_sim/devicecode/{code}/approve", {})
            wait_for(lambda: Tray.find(t3.layout(), "Entra roles", "Global Reader"), 30,
                     "the roles after the device-code sign-in")
            assert not Tray.find(t3.layout(), "Sign-in code: "), "the code stays in the menu after sign-in"
            items = [a for a, _ in secret_items() if any(v.startswith("rt:") for v in a.values())]
            assert items, "no refresh token in the Secret Service after the device-code sign-in"
            print(f"  signed in with code {code}", flush=True)

            t3.click("Sign out adele@contoso.onmicrosoft.com")
            wait_for(lambda: Tray.find(t3.layout(), "Sign in with a code"), 20, "the signed-out menu")
            t3.click("Sign in with a code")
            code2 = wait_for(code_in_menu, 20, "a new user code in the menu")
            sim_post(base, f"/_sim/devicecode/{code2}/decline", {})
            wait_for(lambda: any(n["summary"] == "Could not sign in with a code" for n in notifications(notify_log)),
                     30, "the decline to be reported")
            msg = next(n for n in notifications(notify_log) if n["summary"] == "Could not sign in with a code")
            print(f"  declined: {msg['body']}", flush=True)
            assert "declin" in msg["body"].lower(), msg
            layout = wait_for(lambda: (lambda l: l if not Tray.find(l, "Sign-in code: ") and Tray.find(l, "Not signed in")
                                       else None)(t3.layout()), 20, "the signed-out menu after the decline")
            assert Tray.find(layout, "Sign in with a code")["enabled"]
            t3.click("Quit")
            assert third.wait(timeout=15) == 0
        res.run("Sign in with a code: the code is in the menu and a notification; approving it signs in, "
                "declining is reported", device_code_from_menu)

        def device_code_expires():
            # Nobody enters the code: the simulator's clock moves past the code's 15 minutes
            # (expires_in 900), its next poll answers expired_token, the tray says so in a
            # notification and is signed out again with nothing of the code left in the menu.
            fifth = subprocess.Popen([args.bin], env=env.env, stdout=open(env.out, "a"), stderr=open(env.err, "a"))
            procs.append(fifth)
            t5 = Tray()
            wait_for(t5.find_item, 20, "the tray item")
            wait_for(lambda: Tray.find(t5.layout(), "Sign in with a code"), 20, "the signed-out menu")

            def failures():
                return [n for n in notifications(notify_log) if n["summary"] == "Could not sign in with a code"]
            before = len(failures())
            t5.click("Sign in with a code")
            code = wait_for(lambda: (lambda n: n["label"].split(": ", 1)[1] if n else None)(
                Tray.find(t5.layout(), "Sign-in code: ")), 20, "the user code in the menu")
            sim_post(base, "/_sim/clock/advance", {"seconds": 901})
            wait_for(lambda: len(failures()) > before, 30, "the expired code to be reported")
            msg = failures()[-1]
            print(f"  expired ({code}): {msg['body']}", flush=True)
            assert "expired" in msg["body"].lower(), msg
            layout = wait_for(lambda: (lambda l: l if not Tray.find(l, "Sign-in code: ") and Tray.find(l, "Not signed in")
                                       else None)(t5.layout()), 20, "the signed-out menu after the expiry")
            assert not Tray.find(layout, "Enter it at "), Tray.labels(layout)
            assert Tray.find(layout, "Sign in with a code")["enabled"], Tray.labels(layout)
            assert not [a for a, _ in secret_items() if any(v.startswith("rt:") for v in a.values())]
            t5.click("Quit")
            assert fifth.wait(timeout=15) == 0
        res.run("Sign in with a code: a code that expires (simulator clock past its 15 minutes) is reported; "
                "the menu is signed out again", device_code_expires)

        def browser_fails_falls_back_to_code():
            # "Sign in…" with a BROWSER that cannot start: the tray offers a code instead.
            fourth = subprocess.Popen([args.bin], env=dict(env.env, BROWSER="/nonexistent/browser"),
                                      stdout=open(env.out, "a"), stderr=open(env.err, "a"))
            procs.append(fourth)
            t4 = Tray()
            wait_for(t4.find_item, 20, "the tray item")
            wait_for(lambda: Tray.find(t4.layout(), "Sign in…"), 20, "the signed-out menu")
            t4.click("Sign in…")
            code = wait_for(lambda: (lambda n: n["label"].split(": ", 1)[1] if n else None)(
                Tray.find(t4.layout(), "Sign-in code: ")), 20, "a user code after the browser failed")
            sim_post(base, f"/_sim/devicecode/{code}/approve", {})
            wait_for(lambda: Tray.find(t4.layout(), "Sign out adele@contoso.onmicrosoft.com"), 30,
                     "the sign-in through the code")
            t4.click("Sign out adele@contoso.onmicrosoft.com")
            wait_for(lambda: Tray.find(t4.layout(), "Sign in with a code"), 20, "the signed-out menu")
            t4.click("Quit")
            assert fourth.wait(timeout=15) == 0
        res.run("Sign in… without a working browser falls back to a device code", browser_fails_falls_back_to_code)
    finally:
        if app.poll() is None:
            app.kill()
        for p in procs:
            if p.poll() is None:
                p.terminate()


# ---------------------------------------------------------------- phase: accounts

def menu_sections(layout):
    """The menu's account/tenant sections: {"Tenant · upn": [labels below it, submenus flattened]}."""
    out, cur = {}, None
    for c in layout["children"]:
        label = c["label"]
        if label == "Refresh":
            break
        if " · " in label and "@" in label and not c["enabled"] and not c["children"]:
            cur = out.setdefault(label, [])
            continue
        if cur is not None and label:
            cur.append(label)
            cur.extend(Tray.labels(c, label + " > "))
    return out


def refresh_tokens():
    """The `rt:{key}` values of the refresh-token items in the Secret Service."""
    return sorted(v for a, _ in secret_items() for v in a.values() if v.startswith("rt:"))


def phase_accounts(args, res):
    """Two accounts in the tray without --demo: Adele (pim-sim "demo": Contoso and Fabrikam),
    signed in through the menu, and Test User of another tenant (a second pim-sim, scenario
    "small": Tailspin), signed in with `pim login` into the tray's config folder and keychain.
    Each gets its menu sections; signing one out removes only its sections and its keychain
    item; a restart brings back the other from the keychain."""
    bindir = os.path.dirname(args.bin)
    sim_bin, pim = os.path.join(bindir, "pim-sim"), os.path.join(bindir, "pim")
    if not (os.access(sim_bin, os.X_OK) and os.access(pim, os.X_OK)):
        print("SKIP accounts phase (no pim-sim or pim binary next to pim-tray)", flush=True)
        return
    procs, _ = start_session_services(args.out, "fake")
    env = Env(args.out, "accounts")

    def start_sim(name, scenario):
        out = os.path.join(env.dir, f"{name}.out")
        procs.append(subprocess.Popen([sim_bin, "--listen", "127.0.0.1:0", "--scenario", scenario],
                                      stdout=open(out, "w"), stderr=subprocess.DEVNULL))
        return wait_for(lambda: (re.search(r"PIM_SIM_READY (\S+)", open(out).read()) or [None, None])[1], 20,
                        f"pim-sim {scenario}")
    base_a, base_b = start_sim("sim-a", "demo"), start_sim("sim-b", "small")
    env.env.update(PIM_AUTHORITY_HOST=base_a, PIM_GRAPH_ENDPOINT=base_a, PIM_ARM_ENDPOINT=base_a,
                   BROWSER="curl -s -o /dev/null -L")
    adele, test = "adele@contoso.onmicrosoft.com", "test.user@tailspin.onmicrosoft.com"
    contoso_tid, tailspin_tid = "cab01047-8ad9-4792-8e42-569340767f1b", "0b1e4d7c-5a29-4f83-9c6e-2d8a7f1b3e55"
    state = {"app": subprocess.Popen([args.bin], env=env.env, stdout=open(env.out, "w"), stderr=open(env.err, "w"))}
    procs.append(state["app"])

    def restart(**extra):
        tray = state["tray"]
        tray.click("Quit")
        assert state["app"].wait(timeout=15) == 0, "Quit did not exit 0"
        state["app"] = subprocess.Popen([args.bin], env=dict(env.env, **extra), stdout=open(env.out, "a"),
                                        stderr=open(env.err, "a"))
        procs.append(state["app"])
        state["tray"] = Tray()
        wait_for(state["tray"].find_item, 20, "the tray item after the restart")
        return state["tray"]

    try:
        def two_accounts():
            tray = state["tray"] = Tray()
            wait_for(tray.find_item, 20, "the tray item")
            wait_for(lambda: Tray.find(tray.layout(), "Sign in…"), 20, "the signed-out menu")
            tray.click("Sign in…")
            wait_for(lambda: Tray.find(tray.layout(), f"Sign out {adele}"), 30, "Adele signed in from the menu")
            cenv = dict(env.env, PIM_AUTHORITY_HOST=base_b, PIM_GRAPH_ENDPOINT=base_b, PIM_ARM_ENDPOINT=base_b)
            r = subprocess.run([pim, "login"], env=cenv, capture_output=True, text=True, timeout=60)
            assert r.returncode == 0, f"pim login (second simulator): {r.returncode} {r.stderr}"
            saved = json.load(open(os.path.join(env.env["PIM_CONFIG_DIR"], "accounts.json")))
            assert sorted(a["upn"] for a in saved["accounts"]) == [adele, test], saved
            # The tray reads the saved accounts at start (from the keychain, no browser).
            tray = restart(BROWSER="/nonexistent/browser")
            wait_for(lambda: Tray.find(tray.layout(), f"Sign out {adele}") and Tray.find(tray.layout(), f"Sign out {test}"),
                     30, "both accounts in the menu")
        if not res.run("two accounts: one signed in from the menu, one with `pim login` (another simulator and "
                       "tenant) in the tray's config folder; both open after a restart", two_accounts):
            return

        def section_per_account():
            tray = state["tray"]
            want = {f"Contoso · {adele}": ["Entra roles > Exchange Administrator", "Groups > SQL Prod Admins (owner)"],
                    f"Fabrikam · {adele}": [],
                    f"Tailspin · {test}": ["Entra roles > Global Reader", "Entra roles > Directory Readers",
                                           "Entra roles > Teams Administrator", "Groups > Ops Oncall (member)"]}

            def complete():
                sec = menu_sections(tray.layout())
                return sec if set(sec) == set(want) and all(sec[h] for h in want) else None
            sec = wait_for(complete, 30, f"the sections {sorted(want)}")
            with open(os.path.join(env.dir, "menu-two-accounts.txt"), "w") as f:
                f.write("\n".join(Tray.labels(tray.layout())) + "\n")
            for header, roles in want.items():
                missing = [r for r in roles if r not in sec[header]]
                assert not missing, f"{header}: missing {missing} in {sec[header]}"
            # `pim login` made Test User the default (another simulator, so another authority):
            # the tray opens the saved default first, as the CLI does.
            assert list(sec)[0] == f"Tailspin · {test}", list(sec)
            assert "Entra roles > Exchange Administrator" not in sec[f"Tailspin · {test}"], sec
            assert not any("Ops Oncall" in x for x in sec[f"Contoso · {adele}"]), sec
        res.run("the menu has a section per account and tenant (Tenant · upn), each with that account's roles",
                section_per_account)

        def both_in_keychain():
            rts = refresh_tokens()
            assert len(rts) == 2, rts
            assert any(tailspin_tid in k for k in rts) and any(contoso_tid in k for k in rts), rts
        res.run("both refresh tokens are in the Secret Service (one item per account)", both_in_keychain)

        def sign_out_one():
            tray = state["tray"]
            tray.click(f"Sign out {test}")
            wait_for(lambda: not Tray.find(tray.layout(), f"Sign out {test}"), 20, "Test User's sign-out")
            sec = wait_for(lambda: (lambda x: x if x.get(f"Contoso · {adele}") else None)(menu_sections(tray.layout())),
                           20, "Adele's sections")
            assert set(sec) == {f"Contoso · {adele}", f"Fabrikam · {adele}"}, sorted(sec)
            assert "Entra roles > Exchange Administrator" in sec[f"Contoso · {adele}"], sec
            assert Tray.find(tray.layout(), f"Sign out {adele}")
            rts = refresh_tokens()
            assert len(rts) == 1 and contoso_tid in rts[0], rts
        res.run("signing one account out from the menu removes only its sections and its keychain item", sign_out_one)

        def restart_keeps_other():
            tray = restart(BROWSER="/nonexistent/browser")
            sec = wait_for(lambda: (lambda x: x if x.get(f"Contoso · {adele}") else None)(menu_sections(tray.layout())),
                           30, "Adele's sections after the restart")
            assert set(sec) == {f"Contoso · {adele}", f"Fabrikam · {adele}"}, sorted(sec)
            assert not Tray.find(tray.layout(), f"Sign out {test}")
            assert not Tray.find(tray.layout(), "Sign-in code: ")
            saved = json.load(open(os.path.join(env.env["PIM_CONFIG_DIR"], "accounts.json")))
            assert [a["upn"] for a in saved["accounts"]] == [adele], saved
            tray.click("Quit")
            assert state["app"].wait(timeout=15) == 0
        res.run("a restart brings back the remaining account from the keychain alone", restart_keeps_other)
    finally:
        for p in procs:
            if p.poll() is None:
                p.terminate()


def save(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name), "wb") as f:
        f.write(data)


# ---------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser()
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    ap.add_argument("--bin", default=os.path.join(target, "debug", "pim-tray"))
    ap.add_argument("--out", default=None)
    ap.add_argument("--phase", default=None, help="run one phase inside the current D-Bus session")
    ap.add_argument("--screenshots", default=None)
    ap.add_argument("--phases", default="tray,webview,signin,accounts")
    ap.add_argument("--label", default="package", help="names the build in the package phase's checks")
    args = ap.parse_args()
    args.bin = os.path.abspath(args.bin)
    if args.out is None:
        args.out = tempfile.mkdtemp(prefix="pim-tray-e2e-")
    os.makedirs(args.out, exist_ok=True)
    if args.screenshots is None:
        args.screenshots = os.path.join(args.out, "screenshots")
    results_path = os.path.join(args.out, "results.jsonl")
    if args.phase:
        res = Results(results_path)
        {"tray": phase_tray, "webview": phase_webview, "signin": phase_signin,
         "accounts": phase_accounts, "package": phase_package}[args.phase](args, res)
        return 0
    # Outer: one private D-Bus session per phase.
    if os.path.exists(results_path):
        os.remove(results_path)
    if not os.access(args.bin, os.X_OK):
        print(f"no binary at {args.bin}: run `cargo build -p pim-tray` first", file=sys.stderr)
        return 2
    for phase in args.phases.split(","):
        out = os.path.join(args.out, phase)
        os.makedirs(out, exist_ok=True)
        cmd = ["dbus-run-session", "--", PY, os.path.abspath(__file__), "--phase", phase, "--bin", args.bin,
               "--out", out, "--screenshots", args.screenshots, "--label", args.label]
        print(f"== phase {phase} (logs in {out})", flush=True)
        try:
            subprocess.run(cmd, timeout=600)
        except subprocess.TimeoutExpired:
            Results(results_path).record(f"phase {phase} finished in time", False, "timeout")
        # the phase wrote into its own results file; merge
        phase_results = os.path.join(out, "results.jsonl")
        if os.path.exists(phase_results):
            with open(results_path, "a") as f:
                f.write(open(phase_results).read())
    lines = [json.loads(x) for x in open(results_path)] if os.path.exists(results_path) else []
    passed = sum(1 for x in lines if x["ok"])
    failed = sum(1 for x in lines if not x["ok"])
    if not lines:
        failed = 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
