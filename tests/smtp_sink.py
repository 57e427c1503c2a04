"""A real SMTP server for Candor's tests (aiosmtpd on 127.0.0.1).

usage: smtp_sink.py PORT DIR [DELAY_MS] [--headers-only] [--no-pipelining]

Each received mail is written to DIR as NNNNNN.json (decoded by Python's
email package: envelope, headers, subject, text and html bodies) next to the
raw NNNNNN.eml. Prints "ready PORT" once listening; runs until killed.

DELAY_MS (default 0) holds each mail that long before answering 250, like a
slow relay, so a test can act while a fan-out is still going.
--headers-only decodes the headers alone (no bodies: "text" and "html" are
null), about fifteen times cheaper, for tests that receive thousands of mails.

The server announces PIPELINING (RFC 2920), as most relays do; aiosmtpd
reads commands one line at a time, so pipelined commands are answered in
order. --no-pipelining leaves it out. Recipients whose local part starts
with "refuse" are refused with 550, as a relay refuses an unknown user.
Recipients whose local part starts with "slow" are answered after 10 s,
as a relay that is slow for one domain (a tarpit, greylisting).
"""

import argparse
import asyncio
import email
import email.header
import email.policy
import json
import os

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, directory, delay, headers_only, pipelining):
        self.directory = directory
        self.delay = delay
        self.headers_only = headers_only
        self.pipelining = pipelining
        self.count = 0

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        session.host_name = hostname
        if self.pipelining:
            responses.insert(-1, "250-PIPELINING")
        return responses

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower().startswith("refuse"):
            return "550 5.1.1 No such user here"
        if address.lower().startswith("slow"):
            await asyncio.sleep(10)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay:
            await asyncio.sleep(self.delay)
        self.count += 1
        name = os.path.join(self.directory, f"{self.count:06d}")
        raw = envelope.original_content or envelope.content
        if self.headers_only:
            record = headers_only(raw)
        else:
            record = decoded(raw)
        record["mail_from"] = envelope.mail_from
        record["rcpt_tos"] = envelope.rcpt_tos
        with open(name + ".eml.tmp", "wb") as f:
            f.write(raw)
        os.rename(name + ".eml.tmp", name + ".eml")
        with open(name + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".json.tmp", name + ".json")
        return "250 OK"


def decoded(raw):
    message = email.message_from_bytes(raw, policy=email.policy.default)

    def body(kind):
        part = message.get_body(preferencelist=(kind,))
        return part.get_content() if part is not None else None

    return {
        "subject": str(message["subject"] or ""),
        "headers": [[k, str(v)] for k, v in message.items()],
        "text": body("plain"),
        "html": body("html"),
    }


def headers_only(raw):
    head = raw.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n"
    message = email.message_from_bytes(head, policy=email.policy.compat32)

    def text(value):
        return str(email.header.make_header(email.header.decode_header(value)))

    return {
        "subject": text(message["subject"] or ""),
        "headers": [[k, text(v)] for k, v in message.items()],
        "text": None,
        "html": None,
    }


async def main(args):
    os.makedirs(args.dir, exist_ok=True)
    handler = Handler(args.dir, args.delay_ms / 1000, args.headers_only, not args.no_pipelining)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", args.port)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="An SMTP server for Candor's tests.")
    parser.add_argument("port", type=int)
    parser.add_argument("dir")
    parser.add_argument("delay_ms", type=int, nargs="?", default=0)
    parser.add_argument("--headers-only", action="store_true")
    parser.add_argument("--no-pipelining", action="store_true")
    asyncio.run(main(parser.parse_args()))
