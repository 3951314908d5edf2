#!/usr/bin/env python3
"""A real SMTP server for the mail tests (aiosmtpd), writing every accepted message to a
Maildir. Recipients containing --reject get a permanent 550 answer. Each RCPT attempt is
appended to <maildir>/rcpt.log so tests can count delivery attempts."""
import argparse
import asyncio
import mailbox
import os
import signal

from aiosmtpd.controller import Controller


class Handler:
    def __init__(self, maildir, reject):
        self.box = mailbox.Maildir(maildir, create=True)
        self.log = os.path.join(maildir, "rcpt.log")
        self.reject = reject

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with open(self.log, "a") as f:
            f.write(address + "\n")
        if self.reject and self.reject in address:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = mailbox.MaildirMessage(envelope.original_content or envelope.content)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        self.box.add(msg)
        return "250 Message accepted for delivery"


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--maildir", required=True)
    p.add_argument("--reject", default="")
    a = p.parse_args()
    c = Controller(Handler(a.maildir, a.reject), hostname="127.0.0.1", port=a.port)
    c.start()
    print("ready", flush=True)
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()
    for s in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(s, stop.set)
    loop.run_until_complete(stop.wait())
    c.stop()


if __name__ == "__main__":
    main()
