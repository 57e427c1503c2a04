"""Drives the statuspageio client (crunch-statuspageio) one call at a time.

Usage: driver.py BASE_URL API_KEY PAGE_ID

Reads one JSON object a line from standard input,
  {"call": "incidents.create", "args": [...], "kwargs": {...}},
makes that call through the client's own services, and writes one JSON
line back: {"ok": <what the client returned>}, or, when the client
raised, {"error": <its exception class>, "status": <HTTP status>,
"body": <the error body it parsed>}. The test asserts Candor's state
between calls.
"""

import json
import sys

import statuspageio
from statuspageio.errors import BaseError


def main():
    base_url, api_key, page_id = sys.argv[1:4]
    # The client's documented option for another server than Statuspage's.
    client = statuspageio.Client(api_key=api_key, page_id=page_id, base_url=base_url)
    for line in sys.stdin:
        request = json.loads(line)
        service, method = request["call"].split(".")
        call = getattr(getattr(client, service), method)
        try:
            result = call(*request.get("args", []), **request.get("kwargs", {}))
            if isinstance(result, bytes):
                result = result.decode()
            reply = {"ok": result}
        except BaseError as error:
            reply = {
                "error": type(error).__name__,
                "status": error.http_status,
                "body": error.errors,
            }
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
