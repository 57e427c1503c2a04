"""Drives atlassian-statuspage, a client generated from Statuspage's OpenAPI
document, one call at a time. Its models refuse enum values and types that
Statuspage does not document, so every answer it reads is checked.

Usage: strict_driver.py BASE_URL API_KEY

Reads one JSON object a line, {"api": "IncidentsApi", "call":
"post_pages_page_id_incidents", "args": [...]}, and writes one JSON line
back: {"ok": <the model as a dict>} (a list of them for a list, null for
none), or {"error": "ApiException", "status": <HTTP status>, "body": <the
error body>} when the server refused. Anything else the client raises (a
value its models reject) ends the driver with its traceback.
"""

import datetime
import json
import sys

import atlassian_statuspage as sp


def plain(value):
    if hasattr(value, "to_dict"):
        return plain(value.to_dict())
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    if isinstance(value, (datetime.datetime, datetime.date)):
        return value.isoformat()
    return value


def main():
    base_url, api_key = sys.argv[1:3]
    conf = sp.Configuration()
    # The generated client's documented setting for another server.
    conf.host = base_url + "/v1"
    conf.api_key["Authorization"] = api_key
    conf.api_key_prefix["Authorization"] = "OAuth"
    client = sp.ApiClient(conf)
    for line in sys.stdin:
        request = json.loads(line)
        api = getattr(sp, request["api"])(client)
        try:
            reply = {"ok": plain(getattr(api, request["call"])(*request["args"]))}
        except sp.rest.ApiException as error:
            reply = {
                "error": "ApiException",
                "status": error.status,
                "body": json.loads(error.body or "null"),
            }
        print(json.dumps(reply), flush=True)


if __name__ == "__main__":
    main()
