"""A real SMTP server for Candor's tests (aiosmtpd on 127.0.0.1).

usage: smtp_sink.py PORT DIR

Each received mail is written to DIR as NNNNNN.json (decoded by Python's
email package: envelope, headers, subject, text and html bodies) next to the
raw NNNNNN.eml. Prints "ready PORT" once listening; runs until killed.
"""

import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        self.count += 1
        name = os.path.join(self.directory, f"{self.count:06d}")
        raw = envelope.original_content or envelope.content
        message = email.message_from_bytes(raw, policy=email.policy.default)

        def body(kind):
            part = message.get_body(preferencelist=(kind,))
            return part.get_content() if part is not None else None

        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "subject": str(message["subject"] or ""),
            "headers": [[k, str(v)] for k, v in message.items()],
            "text": body("plain"),
            "html": body("html"),
        }
        with open(name + ".eml.tmp", "wb") as f:
            f.write(raw)
        os.rename(name + ".eml.tmp", name + ".eml")
        with open(name + ".json.tmp", "w") as f:
            json.dump(record, f)
        os.rename(name + ".json.tmp", name + ".json")
        return "250 OK"


async def main(port, directory):
    handler = Handler(directory)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(handler), "127.0.0.1", port)
    print(f"ready {server.sockets[0].getsockname()[1]}", flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    os.makedirs(sys.argv[2], exist_ok=True)
    asyncio.run(main(int(sys.argv[1]), sys.argv[2]))
