#!/usr/bin/python3
"""Resource figures of the release tray (run through bench.sh, inside a private D-Bus session
under Xvfb, like the e2e tests).

Prints:
- launch-to-menu time (process start until the tray menu lists the demo's roles),
- idle RSS of pim-tray with no window open, as a ratio to the bare Tauri tray app
  (examples/bare_tray.rs, same crate, config and profile), in demo mode (signed in, the demo
  roles listed; the simulator is its own process, pim-sim, and not counted) and signed out,
- RSS after opening and closing the activation window, against idle,
- CPU time used over 60 s idle.
"""
import argparse
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    fields = stat[stat.rindex(")") + 2:].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def pss_kib(pid):
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def rss_parts(pid):
    """RssAnon / RssFile / RssShmem in KiB."""
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k = line.split(":")[0]
            if k in ("RssAnon", "RssFile", "RssShmem"):
                out[k] = int(line.split()[1])
    return out


def tree_rss(pid):
    # The tray and its windows (the demo's simulator process, pim-sim, is not the tray's).
    return e2e.rss_kib(pid) + sum(e2e.rss_kib(c) for c, comm in e2e.descendants(pid) if comm != "pim-sim")


def mib(k):
    return f"{k / 1024:.1f} MiB"


def launch(args, env, argv, name):
    t0 = time.monotonic()
    p = subprocess.Popen(argv, env=env.env, stdout=open(env.out, "w"), stderr=open(env.err, "w"))
    tray = e2e.Tray()
    e2e.wait_for(tray.find_item, 60, f"{name}'s tray item", interval=0.02)
    return p, tray, t0


def stop(p, tray):
    try:
        tray.click("Quit")
        p.wait(timeout=15)
    except Exception:  # noqa: BLE001
        p.kill()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--bare", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--settle", type=float, default=15.0)
    ap.add_argument("--cpu-window", type=float, default=60.0)
    args = ap.parse_args()
    procs, _ = e2e.start_session_services(args.out, "fake")
    figures = {}
    try:
        # Bare tray app.
        env = e2e.Env(args.out, "bare")
        p, tray, t0 = launch(args, env, [args.bare], "bare tray")
        figures["bare_launch_to_menu_s"] = time.monotonic() - t0
        time.sleep(args.settle)
        figures["bare_idle_rss_kib"] = e2e.rss_kib(p.pid)
        figures["bare_idle_parts"] = rss_parts(p.pid)
        figures["bare_idle_pss_kib"] = pss_kib(p.pid)
        stop(p, tray)

        # pim-tray signed out (no simulator): the shell's own cost.
        env = e2e.Env(args.out, "signed-out")
        p, tray, t0 = launch(args, env, [args.bin], "pim-tray")
        e2e.wait_for(lambda: e2e.Tray.find(tray.layout(), "Sign in"), 30, "the signed-out menu", interval=0.02)
        figures["signed_out_launch_to_menu_s"] = time.monotonic() - t0
        time.sleep(args.settle)
        figures["signed_out_idle_rss_kib"] = e2e.rss_kib(p.pid)
        figures["signed_out_idle_parts"] = rss_parts(p.pid)
        figures["signed_out_idle_pss_kib"] = pss_kib(p.pid)
        stop(p, tray)

        # pim-tray --demo: starts pim-sim, signs in, reads two tenants.
        env = e2e.Env(args.out, "demo")
        p, tray, t0 = launch(args, env, [args.bin, "--demo"], "pim-tray --demo")
        e2e.wait_for(lambda: e2e.Tray.find(tray.layout(), "Entra roles"), 60, "the demo roles", interval=0.02)
        figures["demo_launch_to_menu_s"] = time.monotonic() - t0
        time.sleep(args.settle)
        figures["demo_idle_rss_kib"] = e2e.rss_kib(p.pid)
        figures["demo_idle_parts"] = rss_parts(p.pid)
        figures["demo_idle_pss_kib"] = pss_kib(p.pid)
        figures["demo_idle_webkit_processes"] = len(e2e.webkit_processes(p.pid))
        c0 = cpu_seconds(p.pid)
        time.sleep(args.cpu_window)
        figures["demo_idle_cpu_s"] = cpu_seconds(p.pid) - c0
        figures["cpu_window_s"] = args.cpu_window

        # Open and close the activation window.
        t1 = time.monotonic()
        tray.click("Entra roles", "Global Reader")
        e2e.wait_for(lambda: e2e.sh("xdotool", "search", "--name", "Activate Global Reader", check=False).stdout.strip(),
                     30, "the activation window", interval=0.02)
        figures["click_to_window_s"] = time.monotonic() - t1
        time.sleep(3)
        figures["window_open_rss_kib"] = e2e.rss_kib(p.pid)
        figures["window_open_tree_rss_kib"] = tree_rss(p.pid)
        e2e.press_escape(e2e.sh("xdotool", "search", "--name", "Activate Global Reader").stdout.split()[0])
        e2e.wait_for(lambda: not e2e.sh("xdotool", "search", "--name", "Activate Global Reader", check=False).stdout.strip(),
                     15, "the window to close")
        time.sleep(args.settle)
        figures["after_close_rss_kib"] = e2e.rss_kib(p.pid)
        figures["after_close_parts"] = rss_parts(p.pid)
        figures["after_close_pss_kib"] = pss_kib(p.pid)
        figures["after_close_tree_rss_kib"] = tree_rss(p.pid)
        figures["after_close_webkit"] = [n for _, n in e2e.webkit_processes(p.pid)]
        stop(p, tray)
    finally:
        for q in procs:
            q.terminate()

    f = figures
    with open(os.path.join(args.out, "bench.json"), "w") as fh:
        json.dump(f, fh, indent=1)
    print("pim-tray bench (release build, Xvfb + private D-Bus session)")
    print(f"  launch to menu: demo {f['demo_launch_to_menu_s']:.2f} s (simulator, sign-in, 2 tenants read); "
          f"signed out {f['signed_out_launch_to_menu_s']:.2f} s; bare tray {f['bare_launch_to_menu_s']:.2f} s")
    print(f"  idle RSS, no window: bare tray {mib(f['bare_idle_rss_kib'])}; "
          f"pim-tray signed out {mib(f['signed_out_idle_rss_kib'])} "
          f"(ratio {f['signed_out_idle_rss_kib'] / f['bare_idle_rss_kib']:.3f}); "
          f"pim-tray --demo {mib(f['demo_idle_rss_kib'])} "
          f"(ratio {f['demo_idle_rss_kib'] / f['bare_idle_rss_kib']:.3f}, signed in, demo roles listed; pim-sim runs apart)")
    print(f"  idle PSS: bare {mib(f['bare_idle_pss_kib'])}; signed out {mib(f['signed_out_idle_pss_kib'])}; "
          f"demo {mib(f['demo_idle_pss_kib'])}; WebKit processes at idle: {f['demo_idle_webkit_processes']}")
    print(f"  menu click to activation window mapped: {f['click_to_window_s']:.2f} s")
    print(f"  activation window open: pim-tray {mib(f['window_open_rss_kib'])}, with WebKit processes "
          f"{mib(f['window_open_tree_rss_kib'])}")
    print(f"  after closing it: pim-tray {mib(f['after_close_rss_kib'])} "
          f"({(f['after_close_rss_kib'] / f['demo_idle_rss_kib'] - 1) * 100:+.1f}% vs idle); "
          f"with WebKit processes {mib(f['after_close_tree_rss_kib'])}; still running: {f['after_close_webkit']}")
    anon = lambda k: f[k]["RssAnon"]  # noqa: E731
    print(f"  private (anonymous) RSS ratio vs bare: signed out "
          f"{anon('signed_out_idle_parts') / anon('bare_idle_parts'):.3f}, demo "
          f"{anon('demo_idle_parts') / anon('bare_idle_parts'):.3f}; after closing the window vs idle: "
          f"{(anon('after_close_parts') / anon('demo_idle_parts') - 1) * 100:+.1f}%")
    parts = lambda k: ", ".join(f"{n[3:].lower()} {mib(v)}" for n, v in f[k].items())  # noqa: E731
    print(f"  RSS parts: bare [{parts('bare_idle_parts')}]; signed out [{parts('signed_out_idle_parts')}]; "
          f"demo [{parts('demo_idle_parts')}]; after close [{parts('after_close_parts')}]")
    print(f"  CPU over {f['cpu_window_s']:.0f} s idle (demo): {f['demo_idle_cpu_s']:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
