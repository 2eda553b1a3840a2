"""The test's notification channels: records every HTTP POST (webhook, Slack, Discord, Telegram) and every mail.

Each notification becomes one JSON line in <folder>/notifications.jsonl: {"channel", "text"}, where channel is the
first path segment of the POST (or "email") and text is the body (the mail's Subject and body). Answers each
channel the way the real service does, so Alertmanager counts the notification as delivered and never retries.
Standard library only (smtpd is deprecated but present in Debian 12's Python 3.11).
"""

import http.server
import json
import sys
import threading
import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import asyncore
    import smtpd

FOLDER, HTTP_PORT, SMTP_PORT = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
LOCK = threading.Lock()
TELEGRAM_OK = {"ok": True, "result": {"message_id": 1, "date": 0, "chat": {"id": 1, "type": "private"}}}


def record(channel, text):
    with LOCK, open(FOLDER + "/notifications.jsonl", "a") as stream:
        stream.write(json.dumps({"channel": channel, "text": text}) + "\n")


class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0))).decode("utf-8", "replace")
        channel = self.path.strip("/").split("/")[0]
        record(channel, body)
        answer = json.dumps(TELEGRAM_OK) if channel == "telegram" else "ok"
        self.send_response(200)
        self.send_header("Content-Type", "application/json" if channel == "telegram" else "text/plain")
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, *args):
        pass


class Sink(smtpd.SMTPServer):
    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        record("email", data.decode("utf-8", "replace") if isinstance(data, bytes) else data)


server = http.server.ThreadingHTTPServer(("127.0.0.1", HTTP_PORT), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
Sink(("127.0.0.1", SMTP_PORT), None, decode_data=False)
asyncore.loop()
