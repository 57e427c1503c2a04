#!/usr/bin/env python3
"""Reads Candor's maintenance calendar the way calendar apps do, with the
icalendar package.

Usage: python3 tests/ics_parse.py URL EXPECTED_JSON

EXPECTED_JSON maps each maintenance id to {"sequence": N, "status":
"CONFIRMED"|"CANCELLED", "start": "YYYYMMDDTHHMMSSZ"}. Exits non-zero when
the calendar does not parse, has lines over 75 octets or bare LF line
ends, or an event differs from what is expected. Run by
tests/api/maintenance.rs when CANDOR_ICALENDAR=1.
"""

import json
import sys
import urllib.request

import icalendar


def main():
    url, expected = sys.argv[1], json.loads(sys.argv[2])
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        body = response.read()
        kind = response.headers.get("content-type", "")
    problems = []
    if not kind.startswith("text/calendar"):
        problems.append(f"content-type {kind!r}")
    lines = body.split(b"\r\n")
    if any(b"\n" in line for line in lines):
        problems.append("a line ends in a bare LF")
    long = [line for line in lines if len(line) > 75]
    if long:
        problems.append(f"{len(long)} lines over 75 octets, e.g. {long[0]!r}")
    calendar = icalendar.Calendar.from_ical(body)
    if str(calendar.get("VERSION")) != "2.0" or not calendar.get("PRODID"):
        problems.append("no VERSION:2.0 or PRODID")
    events = {}
    for event in calendar.walk("VEVENT"):
        uid = str(event.get("UID"))
        if uid in events:
            problems.append(f"UID {uid} twice")
        events[uid.split("@")[0]] = event
        for name in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY", "SEQUENCE"):
            if event.get(name) is None:
                problems.append(f"{uid}: no {name}")
    if set(events) != set(expected):
        problems.append(f"events {sorted(events)}, expected {sorted(expected)}")
    for mid, want in expected.items():
        event = events.get(mid)
        if event is None:
            continue
        got = {
            "sequence": int(event.get("SEQUENCE")),
            "status": str(event.get("STATUS")),
            "start": event.decoded("DTSTART").strftime("%Y%m%dT%H%M%SZ"),
        }
        if got != want:
            problems.append(f"{mid}: {got}, expected {want}")
    if problems:
        print("\n".join(problems))
        sys.exit(1)
    print(f"ics: {len(events)} events read by icalendar {icalendar.__version__}")


main()
