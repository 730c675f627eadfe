#!/usr/bin/env python3
"""The Windows build, end to end under Wine, against the Linux pim-sim on loopback.

    wine_e2e.py --bin-dir target/x86_64-pc-windows-gnu/release --sim target/debug/pim-sim
                [--installer PATH] [--out DIR]

Runs in a throwaway Wine prefix (64-bit, no Mono or Gecko) with a stand-in
bcryptprimitives.dll (see bcryptprimitives.c; test-only, never shipped):

- `pim.exe`: --version; sign in with a device code (approved through the simulator's control
  API); the refresh token (6,000 bytes, as large ones are) lands in Wine's Credential Manager
  split over several entries (the 2,560-byte limit of a Windows credential); roles --json;
  activate; deactivate; logout removes every entry; no token in any file of the prefix nor in
  any output (RUST_LOG=debug).
- `pim-tray.exe --demo`: starts under Wine (X display from the caller, or Xvfb started here),
  starts pim-sim.exe beside itself, signs in to it and builds its tray menu with the demo roles; without
  WebView2 a window says so clearly instead of failing silently.
- the installer (when given): silent install, the installed `pim.exe --version`, uninstall.

Prints `N passed, M failed` last; exit code 1 on any failure.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
# The tray harness's polling helper (stdlib-only module; importing it starts nothing).
sys.path.insert(0, os.path.join(HERE, "..", "..", "src-tauri", "e2e"))
from e2e import wait_for  # noqa: E402
WINE = shutil.which("wine") or "/usr/lib/wine/wine64"
WINESERVER = shutil.which("wineserver") or "/usr/lib/wine/wineserver"
REFRESH_PREFIX = "1.AXEA"  # pim-sim's refresh tokens start with this
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.")
CRED_KEY = r"HKCU\Software\Wine\Credential Manager"


class Results:
    def __init__(self):
        self.rows = []

    def run(self, name, fn):
        t0 = time.time()
        try:
            fn()
            ok, detail = True, ""
        except Exception as e:  # noqa: BLE001 - every failure is a failed check
            ok, detail = False, f"{type(e).__name__}: {e}"
        self.rows.append((name, ok))
        mark = "ok" if ok else "FAIL"
        print(f"wine e2e: {mark:4} {name} ({time.time() - t0:.1f} s){(' — ' + detail) if detail else ''}",
              flush=True)
        return ok


class Wine:
    def __init__(self, out, display):
        self.prefix = os.path.join(out, "prefix")
        self.out = out
        self.env = dict(os.environ)
        self.env.update({
            "WINEPREFIX": self.prefix,
            "WINEARCH": "win64",
            "WINEDEBUG": "-all",
            # no Mono/Gecko install prompts; nothing here needs them
            "WINEDLLOVERRIDES": "mscoree,mshtml=",
            "DISPLAY": display,
            "RUST_BACKTRACE": "1",
        })
        for k in ("PIM_CONFIG_DIR", "BROWSER", "PIM_CLIENT_ID", "PIM_CLOUD"):
            self.env.pop(k, None)
        self.outputs = []  # every stdout/stderr text, for the leak scan

    def boot(self):
        # Once more after a failure: a wineserver still shutting down can make the first boot of
        # a fresh prefix exit at once (seen once in CI, exit 1 after 0.0 s). Its output is kept.
        for attempt in range(2):
            r = subprocess.run([WINE, "wineboot", "-i"], env=self.env, capture_output=True, text=True, timeout=300)
            self.outputs.append(f"$ wineboot -i (attempt {attempt + 1}, exit {r.returncode})\n{r.stdout}\n{r.stderr}")
            if r.returncode == 0:
                break
            time.sleep(3)
        r.check_returncode()
        dll = os.path.join(self.out, "bcryptprimitives.dll")
        subprocess.run(["x86_64-w64-mingw32-gcc", "-shared", "-O2", "-o", dll,
                        os.path.join(HERE, "bcryptprimitives.c"), os.path.join(HERE, "bcryptprimitives.def"),
                        "-ladvapi32"], check=True, timeout=120)
        shutil.copy(dll, os.path.join(self.prefix, "drive_c", "windows", "system32", "bcryptprimitives.dll"))

    def run(self, exe, *args, env=None, timeout=120, check=True):
        e = dict(self.env)
        e.update(env or {})
        r = subprocess.run([WINE, exe, *args], env=e, capture_output=True, text=True, timeout=timeout)
        self.outputs.append(f"$ {os.path.basename(exe)} {' '.join(args)}\n{r.stdout}\n{r.stderr}")
        if check and r.returncode != 0:
            raise AssertionError(f"{os.path.basename(exe)} {' '.join(args)} exited {r.returncode}:\n"
                                 f"{r.stdout}\n{r.stderr[-3000:]}")
        return r

    def credentials(self):
        """Names of the generic credentials in Wine's Credential Manager (its registry key)."""
        r = subprocess.run([WINE, "reg", "query", CRED_KEY], env=self.env, capture_output=True, text=True,
                           timeout=60)
        if r.returncode != 0 and "Credential Manager" not in r.stdout:
            return []  # the key exists once anything was ever stored
        names = []
        for line in r.stdout.splitlines():
            # subkeys come back as full paths: HKEY_CURRENT_USER\Software\Wine\Credential Manager\<name>
            _, sep, name = line.strip().partition("\\Credential Manager\\")
            if sep and name:
                names.append(name)
        return names

    def files_containing(self, needles):
        hits = []
        for root, _dirs, files in os.walk(self.prefix):
            for f in files:
                p = os.path.join(root, f)
                if os.path.islink(p) or not os.path.isfile(p):
                    continue
                try:
                    data = open(p, "rb").read()
                except OSError:
                    continue
                for n in needles:
                    if n.encode() in data or n.encode("utf-16-le") in data:
                        hits.append(p)
                text = data.decode("latin-1")
                if JWT.search(text):
                    hits.append(p + " (JWT)")
        return hits


class Sim:
    def __init__(self, path, out):
        self.log = open(os.path.join(out, "sim.out"), "w")
        self.proc = subprocess.Popen([path, "--listen", "127.0.0.1:0", "--scenario", "demo"],
                                     stdout=subprocess.PIPE, stderr=open(os.path.join(out, "sim.err"), "w"),
                                     text=True)
        line = self.proc.stdout.readline()
        m = re.match(r"PIM_SIM_READY (http://127\.0\.0\.1:\d+)", line)
        if not m:
            raise RuntimeError(f"pim-sim did not start: {line!r}")
        self.base = m.group(1)

    def ctl(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.base + "/_sim/" + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.load(r)

    def active(self, role):
        state = self.ctl("GET", "state")
        return [a for t in state["tenants"] for a in t["active"] if a["roleName"] == role and a["active"]]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def cli_checks(args, res, wine):
    pim = os.path.join(args.bin_dir, "pim.exe")
    sim = Sim(args.sim, args.out)
    env = {"PIM_AUTHORITY_HOST": sim.base, "PIM_GRAPH_ENDPOINT": sim.base, "PIM_ARM_ENDPOINT": sim.base,
           "RUST_LOG": "debug"}
    try:
        sim.ctl("POST", "config", {"refreshTokenBytes": 6000})

        def version():
            r = wine.run(pim, "--version")
            assert re.fullmatch(r"pim \d+\.\d+\.\d+\S*\n", r.stdout), repr(r.stdout)
        res.run("pim.exe --version prints the product version", version)

        def login():
            e = dict(wine.env, **env)
            p = subprocess.Popen([WINE, pim, "login", "--device-code"], env=e, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            err_lines = []
            code = None
            deadline = time.time() + 120
            while code is None and time.time() < deadline:
                line = p.stderr.readline()
                if not line:
                    break
                err_lines.append(line)
                m = re.search(r"enter the code (\S+) to authenticate", line)
                if m:
                    code = m.group(1)
            assert code, "no device code prompt:\n" + "".join(err_lines)
            sim.ctl("POST", f"devicecode/{code}/approve")
            out, err = p.communicate(timeout=120)
            wine.outputs.append("".join(err_lines) + out + err)
            assert p.returncode == 0, f"exit {p.returncode}:\n{out}\n{err[-3000:]}"
            assert "Signed in as" in out, out
        res.run("pim.exe login --device-code signs in against pim-sim", login)

        before = {}

        def credential_manager():
            names = wine.credentials()
            before["names"] = names
            assert len(names) >= 3, f"expected the 6,000-byte token split over several credentials, got {names}"
            print(f"wine e2e: Credential Manager holds {len(names)} entries: {names}", flush=True)
        res.run("the 6,000-byte refresh token is split over Credential Manager entries", credential_manager)

        def roles():
            r = wine.run(pim, "roles", "--json", env=env)
            data = json.loads(r.stdout)
            rows = data if isinstance(data, list) else data.get("roles", [])
            names = {x.get("name") for x in rows}
            for want in ("Global Reader", "Security Administrator", "Contributor"):
                assert want in names, f"{want} missing in {sorted(n for n in names if n)}"
        res.run("pim.exe roles --json lists the demo roles", roles)

        def activate():
            wine.run(pim, "activate", "Global Reader", "--reason", "Wine e2e", "--duration", "30m", env=env)
            assert sim.active("Global Reader"), "the simulator has no active Global Reader"
        res.run("pim.exe activate makes the role active in the simulator", activate)

        def deactivate():
            # PIM refuses a deactivation in the first five minutes; move the simulator's clock on.
            sim.ctl("POST", "clock/advance", {"seconds": 360})
            wine.run(pim, "deactivate", "Global Reader", env=env)
            assert not sim.active("Global Reader"), "Global Reader is still active"
        res.run("pim.exe deactivate ends the activation", deactivate)

        def no_leak():
            hits = wine.files_containing([REFRESH_PREFIX])
            assert not hits, f"token material in files of the Wine prefix: {hits}"
            for text in wine.outputs:
                assert REFRESH_PREFIX not in text and not JWT.search(text), "a token in pim.exe's output"
        res.run("no token in any file of the Wine prefix nor in any output (RUST_LOG=debug)", no_leak)

        def logout():
            assert wine.credentials(), "nothing in the Credential Manager before logout"
            wine.run(pim, "logout", env=env)
            left = wine.credentials()
            assert not left, f"credentials left after logout: {left}"
        res.run("pim.exe logout deletes every Credential Manager entry", logout)
    finally:
        sim.stop()


def tray_checks(args, res, wine):
    tray = os.path.join(args.bin_dir, "pim-tray.exe")

    def version():
        r = wine.run(tray, "--version")
        assert re.fullmatch(r"pim-tray \d+\.\d+\.\d+\S*\n", r.stdout), repr(r.stdout)
    res.run("pim-tray.exe --version prints the product version", version)

    def demo_menu():
        cfg = os.path.join(args.out, "tray-config")
        os.makedirs(cfg, exist_ok=True)
        out_path = os.path.join(args.out, "tray.out")
        err_path = os.path.join(args.out, "tray.err")
        # A light taskbar (Windows 11's default look): the tray picks the dark glyph.
        subprocess.run([WINE, "reg", "add", r"HKCU\Software\Microsoft\Windows\CurrentVersion\Themes\Personalize",
                        "/v", "SystemUsesLightTheme", "/t", "REG_DWORD", "/d", "1", "/f"], env=wine.env,
                       capture_output=True, timeout=60, check=True)
        e = dict(wine.env, RUST_LOG="info,pim_tray::tray=debug", PIM_CONFIG_DIR="Z:" + cfg.replace("/", "\\"))
        p = subprocess.Popen([WINE, tray, "--demo"], env=e, stdout=open(out_path, "w"), stderr=open(err_path, "w"))
        try:
            wait_for(lambda: "PIM_SIM_READY http://127.0.0.1:" in open(out_path).read(), 60, "PIM_SIM_READY")

            def menu():
                for line in open(err_path, errors="replace"):
                    if "tray menu" in line and "labels=" in line and "Global Reader" in line:
                        return line
                return None
            line = wait_for(menu, 90, "a tray menu with the demo roles (log)")
            for want in ("Contoso", "Fabrikam", "Security Administrator", "SQL Prod Admins", "Quit"):
                assert want in line, f"{want} missing in the menu: {line}"

            # The approver's inbox is read on Windows too: its section tops the menu.
            def inbox():
                for l in open(err_path, errors="replace"):
                    if "tray menu" in l and "Approvals (3)" in l and "Alex Wilber" in l:
                        return l
                return None
            wait_for(inbox, 60, "Approvals (3) in the menu (log)")
            # The icon is set after the menu (tray::update logs it next): wait for its line
            # rather than read the log at once (a race CI lost once at cc59ca0).
            def icon():
                log = open(err_path, errors="replace").read()
                return re.search(r"tray icon.*light_panel=(true|false)", log)
            found = wait_for(icon, 30, "the tray icon's log line")
            assert found.group(1) == "true", \
                "the tray ignored the light taskbar (SystemUsesLightTheme=1): " + found.group(0)
            log = open(err_path, errors="replace").read()
            assert "cannot update the tray" not in log and "panicked" not in log, log[-3000:]
            assert p.poll() is None, f"pim-tray.exe exited with {p.returncode}"
        finally:
            p.kill()
            subprocess.run([WINESERVER, "-k"], env=wine.env,
                           capture_output=True, timeout=60)
            p.wait(timeout=30)
    res.run("pim-tray.exe --demo starts under Wine, builds its menu with the demo roles and "
            "picks the icon for a light taskbar; the approver's inbox tops it", demo_menu)

    def no_webview2():
        r = wine.run(tray, "--window", "settings", "--title", "Settings", check=False, timeout=120)
        assert r.returncode != 0, "the window process claimed success without WebView2"
        assert "WebView2" in r.stderr and "https://" in r.stderr, r.stderr[-2000:]
    res.run("without WebView2 a window fails with a message naming WebView2 and where to get it", no_webview2)


ENV_KEY = r"HKLM\SYSTEM\CurrentControlSet\Control\Session Manager\Environment"
UNINST_KEY = r"HKLM\Software\Microsoft\Windows\CurrentVersion\Uninstall\PIM Tray"
AUMID_KEY = r"HKLM\Software\Classes\AppUserModelId\app.pimtray.tray"


def installer_checks(args, res, wine):
    inst = args.installer
    target = os.path.join(wine.prefix, "drive_c", "Program Files", "PIM Tray")
    state = {}

    def reg(key, value):
        """A registry value's data, or "" when the key or value is missing."""
        r = subprocess.run([WINE, "reg", "query", key, "/v", value], env=wine.env, capture_output=True,
                           text=True, timeout=60)
        for line in r.stdout.splitlines():
            parts = line.strip().split(None, 2)
            if len(parts) == 3 and parts[0].lower() == value.lower():
                return parts[2]
        return ""

    def install():
        wine.run(inst, "/S", timeout=300)
        wait_for(lambda: os.path.exists(os.path.join(target, "pim.exe")), 60, "pim.exe installed")
        for f in ("pim.exe", "pim-tray.exe", "pim-sim.exe", "uninstall.exe"):
            assert os.path.exists(os.path.join(target, f)), f"{f} not installed: {os.listdir(target)}"
        r = wine.run(os.path.join(target, "pim.exe"), "--version")
        assert r.stdout.startswith("pim "), r.stdout
        menu = os.path.join(wine.prefix, "drive_c", "ProgramData", "Microsoft", "Windows", "Start Menu",
                            "Programs", "PIM Tray.lnk")
        assert os.path.exists(menu), "no Start menu shortcut"
        assert "PIM Tray" in reg(ENV_KEY, "Path"), "the install folder is not on the system PATH"
        assert "PIM Tray" in reg(UNINST_KEY, "DisplayName"), "no entry in Apps & features"
        assert "pim-tray.png" in reg(AUMID_KEY, "IconUri"), "the AppUserModelID is not registered"
        state["menu"] = menu
    res.run("the installer installs pim.exe and pim-tray.exe silently (/S): Start menu entry, PATH, "
            "Apps & features, toast registration", install)

    def uninstall():
        wine.run(os.path.join(target, "uninstall.exe"), "/S", timeout=300)
        wait_for(lambda: not os.path.exists(os.path.join(target, "pim.exe")), 60, "pim.exe removed")
        assert not os.path.exists(target), f"left behind: {os.listdir(target)}"
        assert not os.path.exists(state["menu"]), "the Start menu shortcut is still there"
        assert "PIM Tray" not in reg(ENV_KEY, "Path"), "the install folder is still on the PATH"
        assert reg(UNINST_KEY, "DisplayName") == "" and reg(AUMID_KEY, "IconUri") == "", "registry entries left"
    res.run("the uninstaller removes the files, the shortcut, the PATH entry and the registry entries", uninstall)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin-dir", required=True)
    ap.add_argument("--sim", required=True)
    ap.add_argument("--installer")
    ap.add_argument("--out")
    args = ap.parse_args()
    args.bin_dir = os.path.abspath(args.bin_dir)
    args.sim = os.path.abspath(args.sim)
    args.out = os.path.abspath(args.out or tempfile.mkdtemp(prefix="pim-wine-e2e-"))
    os.makedirs(args.out, exist_ok=True)
    for f in ("pim.exe", "pim-tray.exe"):
        if not os.path.exists(os.path.join(args.bin_dir, f)):
            print(f"wine e2e: no {f} in {args.bin_dir}", file=sys.stderr)
            print("0 passed, 1 failed")
            return 1

    xvfb = None
    display = os.environ.get("DISPLAY", "")
    if not display:
        for n in range(130, 160):
            if not os.path.exists(f"/tmp/.X{n}-lock") and not os.path.exists(f"/tmp/.X11-unix/X{n}"):
                display = f":{n}"
                break
        xvfb = subprocess.Popen(["Xvfb", display, "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: subprocess.run(["xdpyinfo", "-display", display], capture_output=True).returncode == 0,
                 20, "Xvfb")
    res = Results()
    wine = Wine(args.out, display)
    try:
        if res.run("a fresh Wine prefix boots (with the test-only bcryptprimitives stand-in)", wine.boot):
            cli_checks(args, res, wine)
            tray_checks(args, res, wine)
            if args.installer:
                installer_checks(args, res, wine)
    finally:
        subprocess.run([WINESERVER, "-k"], env=wine.env,
                       capture_output=True, timeout=60)
        if xvfb:
            xvfb.kill()
    with open(os.path.join(args.out, "outputs.txt"), "w") as f:
        f.write("\n".join(wine.outputs))
    passed = sum(1 for _, ok in res.rows if ok)
    failed = sum(1 for _, ok in res.rows if not ok)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
