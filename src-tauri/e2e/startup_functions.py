#!/usr/bin/python3
"""Runs the release tray under callgrind (inside a private D-Bus session under Xvfb, like the
e2e tests) from start to idle, in demo mode (signed in, the demo roles listed) and signed out,
and writes the functions of the tray binary that ran, in the order they first ran, one mangled
name a line: the list `src-tauri/linux/ordered-link` packs together at link time.

    startup_functions.py --bin target/release/pim-tray --out DIR --list FILE
"""
import argparse
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import e2e  # noqa: E402


def ran(callgrind_out, binary):
    """Function names with a cost in `binary`'s object, in the order the profile names them."""
    objects, functions, names, seen = {}, {}, [], set()
    current = None
    spec = re.compile(r"(c?ob|c?fn)=\((\d+)\)(?: (.*))?")
    for line in open(callgrind_out, errors="replace"):
        m = spec.match(line.rstrip("\n"))
        if not m:
            continue
        kind, ident, name = m.groups()
        table = objects if kind.endswith("ob") else functions
        if name:
            table[ident] = name
        if kind == "ob":
            current = objects.get(ident)
        elif kind == "fn" and current and os.path.realpath(current) == binary:
            fn = functions[ident]
            if fn not in seen and not fn.startswith("0x"):
                seen.add(fn)
                names.append(fn)
    return names


def profile(binary, out, name, argv_tail, ready_label):
    env = e2e.Env(out, name)
    env.env["PIM_SIM"] = os.path.join(os.path.dirname(binary), "pim-sim")
    profile_file = os.path.join(out, f"{name}.callgrind")
    argv = ["valgrind", "--tool=callgrind", "--demangle=no", f"--callgrind-out-file={profile_file}",
            binary, *argv_tail]
    p = subprocess.Popen(argv, env=env.env, stdout=open(env.out, "w"), stderr=open(env.err, "w"))
    tray = e2e.Tray()
    e2e.wait_for(tray.find_item, 300, f"{name}: the tray item", interval=0.5)
    e2e.wait_for(lambda: e2e.Tray.find(tray.layout(), ready_label), 300, f"{name}: {ready_label}", interval=0.5)
    time.sleep(20)  # idle: reminders scheduled, the first timers fired
    tray.click("Quit")
    p.wait(timeout=120)
    return ran(profile_file, binary)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--list", required=True)
    args = ap.parse_args()
    binary = os.path.realpath(args.bin)
    procs, _ = e2e.start_session_services(args.out, "fake")
    try:
        demo = profile(binary, args.out, "demo", ["--demo"], "Entra roles")
        signed_out = profile(binary, args.out, "signed-out", [], "Sign in")
    finally:
        for q in procs:
            q.terminate()
    names = demo + [n for n in signed_out if n not in set(demo)]
    with open(args.list, "w") as f:
        f.write("\n".join(names) + "\n")
    print(f"{len(names)} functions ({len(demo)} in demo mode, {len(names) - len(demo)} more signed out) -> {args.list}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
