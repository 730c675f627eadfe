#!/usr/bin/env python3
"""A stand-in org.freedesktop.Notifications server for headless tests.

Records every Notify call as one JSON line on stdout (flushed):
  {"id": N, "app": ..., "summary": ..., "body": ..., "actions": [...], "replaces": N, "timeout": N}
and answers GetCapabilities / GetServerInformation / CloseNotification like a real server.
"""
import json
import sys

import dbus
import dbus.service
from dbus.mainloop.glib import DBusGMainLoop
from gi.repository import GLib

NAME = "org.freedesktop.Notifications"
PATH = "/org/freedesktop/Notifications"


class Server(dbus.service.Object):
    def __init__(self, bus):
        super().__init__(bus, PATH)
        self.next_id = 0

    @dbus.service.method(NAME, in_signature="susssasa{sv}i", out_signature="u")
    def Notify(self, app, replaces, icon, summary, body, actions, hints, timeout):
        if replaces:
            nid = int(replaces)
        else:
            self.next_id += 1
            nid = self.next_id
        print(json.dumps({
            "id": nid, "app": str(app), "summary": str(summary), "body": str(body),
            "actions": [str(a) for a in actions], "replaces": int(replaces), "timeout": int(timeout),
        }), flush=True)
        return dbus.UInt32(nid)

    @dbus.service.method(NAME, in_signature="", out_signature="as")
    def GetCapabilities(self):
        return ["actions", "body"]

    @dbus.service.method(NAME, in_signature="", out_signature="ssss")
    def GetServerInformation(self):
        return ("pim-tray-e2e", "pim-tray", "1.0", "1.2")

    @dbus.service.method(NAME, in_signature="u", out_signature="")
    def CloseNotification(self, nid):
        self.NotificationClosed(nid, 3)

    @dbus.service.signal(NAME, signature="uu")
    def NotificationClosed(self, nid, reason):
        pass

    @dbus.service.signal(NAME, signature="us")
    def ActionInvoked(self, nid, action):
        pass


def main():
    DBusGMainLoop(set_as_default=True)
    bus = dbus.SessionBus()
    name = dbus.service.BusName(NAME, bus, do_not_queue=True)
    Server(bus)
    print(json.dumps({"ready": True, "owner": name.get_name()}), flush=True)
    GLib.MainLoop().run()


if __name__ == "__main__":
    sys.exit(main())
