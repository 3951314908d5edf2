#!/usr/bin/env python3
"""A real SMTP server for the mail tests (aiosmtpd), writing every accepted message to a
Maildir. Recipients containing --reject get a permanent 550 answer. Each RCPT attempt is
appended to <maildir>/rcpt.log so tests can count delivery attempts.

--starttls CERT KEY: STARTTLS offered and required before MAIL; --tls CERT KEY: implicit TLS
(SMTPS); --auth USER:PASSWORD: login required (after TLS). Each login is appended to
<maildir>/auth.log as "ok USER" or "bad USER"."""
import argparse
import asyncio
import mailbox
import os
import signal
import ssl

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword


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
    p.add_argument("--starttls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--tls", nargs=2, metavar=("CERT", "KEY"))
    p.add_argument("--auth", default="")
    a = p.parse_args()
    handler = Handler(a.maildir, a.reject)  # creates the Maildir
    kwargs = {}
    if a.starttls or a.tls:
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(*(a.starttls or a.tls))
        if a.starttls:
            kwargs.update(tls_context=ctx, require_starttls=True)
        else:
            kwargs.update(ssl_context=ctx)
    if a.auth:
        user, password = a.auth.split(":", 1)
        log = os.path.join(a.maildir, "auth.log")

        def authenticator(server, session, envelope, mechanism, data):
            ok = isinstance(data, LoginPassword) and data.login.decode() == user and data.password.decode() == password
            with open(log, "a") as f:
                f.write(("ok " if ok else "bad ") + (data.login.decode() if isinstance(data, LoginPassword) else "?") + "\n")
            return AuthResult(success=ok)

        # With implicit TLS the whole connection is encrypted, but aiosmtpd only counts STARTTLS.
        kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=bool(a.starttls))
    c = Controller(handler, hostname="127.0.0.1", port=a.port, **kwargs)
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
