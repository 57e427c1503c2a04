#!/usr/bin/env python3
"""Reads Candor's feeds the way feed readers do, with feedparser.

Usage: python3 tests/feeds_parse.py URL [URL ...]

Exits non-zero if any feed is not well-formed (feedparser's `bozo`), is not
Atom 1.0 or RSS 2.0, has no title, or has an item without an id, a title, a
date or a link. Run by tests/api/feeds.rs when CANDOR_FEEDPARSER=1.
"""

import sys
import urllib.request

import feedparser


def fetch(url):
    # Straight to the test server, whatever proxy the environment names.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=30) as response:
        return response.read(), dict(response.headers)


def problems_of(url):
    body, headers = fetch(url)
    headers = {k.lower(): v for k, v in headers.items()}
    feed = feedparser.parse(body, response_headers=headers)
    problems = []
    if feed.bozo:
        problems.append(f"not well-formed: {feed.bozo_exception!r}")
    if feed.version not in ("atom10", "rss20"):
        problems.append(f"not Atom 1.0 or RSS 2.0 but {feed.version!r}")
    if not feed.feed.get("title"):
        problems.append("the feed has no title")
    for n, item in enumerate(feed.entries):
        # feedparser 6 keeps RSS's pubDate as `published` only.
        date = item.get("updated_parsed") or item.get("published_parsed")
        for name, value in (
            ("id", item.get("id")),
            ("title", item.get("title")),
            ("updated", date),
            ("link", item.get("link")),
        ):
            if not value:
                problems.append(f"item {n} has no {name}: {dict(item)!r}")
    return problems, len(feed.entries)


def main(urls):
    if not urls:
        print(__doc__, file=sys.stderr)
        return 2
    failed = False
    for url in urls:
        try:
            problems, count = problems_of(url)
        except Exception as error:  # a fetch that fails is a failure too
            problems, count = [f"cannot fetch: {error!r}"], 0
        for problem in problems:
            print(f"FAIL {url}: {problem}")
        if problems:
            failed = True
        else:
            print(f"ok   {url}: {count} items")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
