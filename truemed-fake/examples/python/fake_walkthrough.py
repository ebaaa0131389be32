#!/usr/bin/env python3
"""Drive the fake Truemed server from Python, with the standard library alone.

Start the fake first (it prints `listening on http://127.0.0.1:PORT`):

    cargo install --locked --path truemed-fake
    truemed-fake serve --port 8080 --api-key test_key

then run:

    python3 truemed-fake/examples/python/fake_walkthrough.py http://127.0.0.1:8080 test_key

It creates a session through the control API (`openapi/fake-control.yaml`), starts a tiny
webhook receiver of its own, points the fake's webhook endpoint at it, attaches a user id
through the real API (`openapi/truemed.yaml`), approves the session, verifies the signed
delivery with `hmac` (its first attempt is answered 500, so the fake retries), reads the
ledger of applied updates, and injects a fault. `scripts/conformance` runs it.
"""

import hashlib
import hmac
import json
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = "whsec_walkthrough"


def main(base, key):
    def call(method, path, body=None):
        """One request to the fake; returns (status, decoded JSON or None)."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            base + path,
            data=data,
            method=method,
            headers={"x-truemed-api-key": key, "content-type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            raw = error.read()
            return error.code, json.loads(raw) if raw else None

    # 1. A session, as the API would return it (every field optional).
    status, session = call(
        "POST",
        "/_fake/sessions",
        {"email": "ada@example.com", "user_name": "Ada Lovelace", "source": "checkout"},
    )
    assert status == 201, (status, session)
    session_id = session["qualification_session_id"]
    print(f"created {session_id} ({session['status']})")

    # 2. A webhook receiver of our own: answers 500 to the first delivery, 204 after.
    received = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("content-length", "0")))
            received.append((self.headers, body))
            self.send_response(500 if len(received) == 1 else 204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    hook_url = f"http://127.0.0.1:{server.server_address[1]}/hooks/truemed"
    status, endpoint = call(
        "PUT", "/_fake/webhook_endpoint", {"url": hook_url, "secret": SECRET, "backoff_ms": 20}
    )
    assert status == 200 and endpoint["url"] == hook_url, (status, endpoint)

    # 3. What your code does against Truemed: attach your user id, idempotently.
    update = {"idempotency_key": f"walkthrough-{session_id}", "user_id": "user_42"}
    path = f"/api/v1/qualification_session/{session_id}/update"
    first = call("POST", path, update)
    again = call("POST", path, update)  # a retry: the same answer, applied once
    assert first == again and first[0] == 200, (first, again)

    # 4. Truemed's reviewers approve; the fake delivers the webhook, retrying after the 500.
    status, decision = call("POST", f"/_fake/sessions/{session_id}/approve")
    assert status == 200 and decision["session"]["status"] == "approved", decision
    delivery_id = decision["webhook_delivery_id"]
    status, flushed = call("POST", "/_fake/webhooks/flush", {"timeout_ms": 10000})
    assert status == 200 and flushed["complete"], flushed

    # 5. Verify the signature the way a receiver must: HMAC-SHA256 of "{t}.{raw body}".
    assert len(received) == 2, f"expected 2 attempts, got {len(received)}"
    for headers, body in received:
        fields = [part.strip().split("=", 1) for part in headers["x-truemed-signature"].split(",")]
        timestamp = next(value for name, value in fields if name == "t")
        signatures = [value for name, value in fields if name == "v1"]
        expected = hmac.new(
            SECRET.encode(), timestamp.encode() + b"." + body, hashlib.sha256
        ).hexdigest()
        assert any(hmac.compare_digest(expected, s) for s in signatures), "bad signature"
        assert abs(time.time() - int(timestamp)) <= 300, "stale timestamp"
        envelope = json.loads(body)
        assert envelope["webhook_delivery_id"] == delivery_id, envelope
        assert envelope["event_type"] == "qualification_session.complete", envelope
        assert envelope["data"]["qualification_session_id"] == session_id, envelope
        assert envelope["data"]["status"] == "approved", envelope
        assert envelope["data"]["user_id"] == "user_42", envelope
    print(f"webhook {delivery_id}: signature verified on both attempts")

    # 6. What the fake recorded: the delivery's attempts, and the ledger of applied updates.
    status, delivery = call("GET", f"/_fake/webhooks/{delivery_id}")
    assert delivery["state"] == "delivered", delivery
    assert [a["status"] for a in delivery["attempts"]] == [500, 204], delivery
    status, ledger = call("GET", f"/_fake/ledger?qualification_session_id={session_id}")
    assert [u["idempotency_key"] for u in ledger["applied_updates"]] == [
        update["idempotency_key"]
    ], ledger
    print(f"ledger: {len(ledger['applied_updates'])} update applied, attempts {[a['status'] for a in delivery['attempts']]}")

    # 7. A fault: the next get answers 503 with Retry-After, then all is well again.
    status, queue = call(
        "POST",
        "/_fake/faults",
        {"kind": "status", "status": 503, "retry_after_ms": 1000, "operation": "get_qualification_session"},
    )
    assert status == 201 and queue["pending_faults"] == 1, queue
    status, body = call("GET", f"/api/v1/qualification_session/{session_id}")
    assert status == 503, (status, body)
    status, body = call("GET", f"/api/v1/qualification_session/{session_id}")
    assert status == 200 and body["status"] == "approved", (status, body)

    # Leave the fake as we found it: no endpoint pointing at our receiver.
    assert call("DELETE", "/_fake/webhook_endpoint")[0] == 204
    server.shutdown()
    print("walkthrough: ok")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: fake_walkthrough.py BASE_URL API_KEY")
    main(sys.argv[1].rstrip("/"), sys.argv[2])
